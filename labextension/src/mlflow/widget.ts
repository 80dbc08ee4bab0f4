import { MainAreaWidget } from '@jupyterlab/apputils';
import { type TranslationBundle } from '@jupyterlab/translation';
import {
  IFrame,
  launchIcon,
  refreshIcon,
  ToolbarButton
} from '@jupyterlab/ui-components';

import { mlplatIcon } from '../common/icons';
import { MLFLOW_WIDGET_ID } from '../tokens';

/**
 * Sandbox exceptions of the MLflow UI frame. The UI is a same-origin
 * single-page app served (authenticated) by the server extension's proxy.
 */
export const MLFLOW_SANDBOX: IFrame.SandboxExceptions[] = [
  'allow-scripts',
  'allow-same-origin',
  'allow-forms',
  'allow-popups',
  'allow-downloads'
];

/**
 * Main-area tab hosting the MLflow tracking UI in an iframe.
 */
export class MLflowWidget extends MainAreaWidget<IFrame> {
  constructor(url: string, trans: TranslationBundle) {
    const content = new IFrame({
      sandbox: MLFLOW_SANDBOX,
      referrerPolicy: 'same-origin'
    });
    content.url = url;
    super({ content });
    this._url = url;

    this.id = MLFLOW_WIDGET_ID;
    this.addClass('jp-MLPlatMLflow');
    this.node.dataset.testid = 'mlplat-mlflow';
    this.title.label = trans.__('MLflow');
    this.title.caption = trans.__('MLflow tracking UI (%1)', url);
    this.title.icon = mlplatIcon;
    this.title.closable = true;

    this.toolbar.addItem(
      'reload',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: trans.__('Reload the MLflow UI'),
        onClick: () => this.reload()
      })
    );
    this.toolbar.addItem(
      'open-in-new-tab',
      new ToolbarButton({
        icon: launchIcon,
        label: trans.__('Open in new tab'),
        tooltip: trans.__('Open the MLflow UI in a new browser tab'),
        onClick: () => {
          window.open(this.currentUrl, '_blank', 'noopener');
        }
      })
    );
  }

  /**
   * The URL the tab was opened with.
   */
  get url(): string {
    return this._url;
  }

  /**
   * The page currently displayed (MLflow routes live in the URL hash), or
   * the initial URL if it cannot be read.
   */
  get currentUrl(): string {
    try {
      const href = this._frame?.contentWindow?.location.href;
      if (href && href !== 'about:blank') {
        return href;
      }
    } catch {
      // Cross-origin (e.g. the proxy redirected elsewhere): fall back.
    }
    return this._url;
  }

  /**
   * Reload the current page of the frame.
   */
  reload(): void {
    try {
      const win = this._frame?.contentWindow;
      if (win) {
        win.location.reload();
        return;
      }
    } catch {
      // Fall through to resetting the source.
    }
    this.content.url = this._url;
  }

  private get _frame(): HTMLIFrameElement | null {
    return this.content.node.querySelector('iframe');
  }

  private _url: string;
}
