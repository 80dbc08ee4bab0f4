import { type Message } from '@lumino/messaging';
import { type ISignal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

/**
 * A widget that re-renders from its model: every `changed` emission requests
 * an update, and each update calls `render()`. Subclasses call `render()` once
 * at the end of their constructor.
 */
export abstract class ModelView extends Widget {
  constructor(changed: ISignal<unknown, unknown>) {
    super();
    this._changed = changed;
    changed.connect(this.update, this);
  }

  /**
   * Rebuild the DOM from the model (synchronously).
   */
  abstract render(): void;

  override dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._changed.disconnect(this.update, this);
    super.dispose();
  }

  protected override onUpdateRequest(msg: Message): void {
    super.onUpdateRequest(msg);
    this.render();
  }

  private _changed: ISignal<unknown, unknown>;
}
