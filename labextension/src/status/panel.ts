import { type TranslationBundle } from '@jupyterlab/translation';
import {
  refreshIcon,
  SidePanel,
  ToolbarButton
} from '@jupyterlab/ui-components';
import { type IDisposable } from '@lumino/disposable';
import { type Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';

import { h } from '../common/dom';
import { mlplatIcon } from '../common/icons';
import { type IStatusModel, STATUS_PANEL_ID } from '../tokens';
import { StatusView } from './view';

/**
 * Left side panel showing the ML platform status.
 */
export class StatusPanel extends SidePanel {
  constructor(options: StatusPanel.IOptions) {
    super({ content: new Panel() });
    this._model = options.model;
    this.id = STATUS_PANEL_ID;
    this.addClass('jp-MLPlatStatusPanel');
    this.title.icon = mlplatIcon;
    const trans = options.trans;
    this.title.caption = trans.__('ML Platform');
    this.node.setAttribute('aria-label', trans.__('ML Platform status'));

    const heading = h('h2', {}, trans.__('ML Platform'));
    this.header.addWidget(new Widget({ node: heading }));

    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: trans.__('Refresh platform status'),
        onClick: () => {
          void this._model.refresh();
        }
      })
    );

    this.addWidget(new StatusView(options));

    // Poll while the panel is visible (interval comes from the settings).
    this._watch = this._model.watch(() => this.isVisible);
  }

  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this._model.refresh();
  }

  override dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._watch.dispose();
    super.dispose();
  }

  private _model: IStatusModel;
  private _watch: IDisposable;
}

/**
 * A namespace for `StatusPanel` statics.
 */
export namespace StatusPanel {
  export interface IOptions {
    /** The shared status model. */
    model: IStatusModel;
    /** Open the MLflow UI (adds a link to the panel when given). */
    openMLflow?: () => void;
    /** Translations of the panel's strings. */
    trans: TranslationBundle;
  }
}
