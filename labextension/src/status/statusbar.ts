import { type TranslationBundle } from '@jupyterlab/translation';

import { dot, type DotState, h } from '../common/dom';
import { ModelView } from '../common/modelview';
import { type IStatusModel } from '../tokens';

/**
 * Compact status-bar item: "MLflow ●" (green: tracking server reachable,
 * red: unreachable or status error, grey: unknown/loading).
 */
export class StatusBarItem extends ModelView {
  constructor(options: StatusBarItem.IOptions) {
    super(options.model.changed);
    this._model = options.model;
    this._trans = options.trans;
    this.addClass('jp-MLPlatStatusBar');
    this.node.dataset.testid = 'mlplat-statusbar';
    this.node.setAttribute('role', 'button');
    this.node.tabIndex = 0;
    const activate = options.onClick;
    if (activate) {
      this.node.addEventListener('click', () => activate());
      this.node.addEventListener('keydown', event => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          activate();
        }
      });
    }
    this.render();
  }

  render(): void {
    const { status, error } = this._model;
    const trans = this._trans;
    const reachable = status?.tracking?.reachable;
    let state: DotState = 'unknown';
    let tooltip = trans.__('MLflow tracking: checking…');
    if (error) {
      state = 'error';
      tooltip = trans.__('ML platform status unavailable: %1', error);
    } else if (reachable === true) {
      state = 'ok';
      tooltip = trans.__(
        'MLflow tracking server reachable (%1)',
        status?.tracking.uri ?? ''
      );
    } else if (reachable === false) {
      state = 'error';
      tooltip = trans.__(
        'MLflow tracking server unreachable (%1)',
        status?.tracking.uri ?? ''
      );
    }
    this.node.dataset.state = state;
    this.node.title = `${tooltip}\n${trans.__('Click to show the ML Platform panel.')}`;
    this.node.replaceChildren(
      h('span', {}, trans.__('MLflow')),
      dot(state, tooltip)
    );
  }

  private _model: IStatusModel;
  private _trans: TranslationBundle;
}

/**
 * A namespace for `StatusBarItem` statics.
 */
export namespace StatusBarItem {
  export interface IOptions {
    model: IStatusModel;
    /** Called on click / Enter. */
    onClick?: () => void;
    /** Translations of the item's strings. */
    trans: TranslationBundle;
  }
}
