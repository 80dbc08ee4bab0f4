import { type JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget, type WidgetTracker } from '@jupyterlab/apputils';
import { type TranslationBundle } from '@jupyterlab/translation';
import {
  IFrame,
  type LabIcon,
  launchIcon,
  refreshIcon,
  ToolbarButton
} from '@jupyterlab/ui-components';
import { type Widget } from '@lumino/widgets';

/**
 * Sandbox exceptions of a proxied web UI's frame. The UI is a same-origin
 * single-page app served (authenticated) by the server extension's proxy.
 */
export const UI_FRAME_SANDBOX: IFrame.SandboxExceptions[] = [
  'allow-scripts',
  'allow-same-origin',
  'allow-forms',
  'allow-popups',
  'allow-downloads'
];

/**
 * What a web UI tab shows and how it is named.
 */
export interface IUIFrameOptions {
  /** The frame's first page (under the Jupyter base URL). */
  url: string;
  /** DOM id of the tab (one tab per UI). */
  id: string;
  /** `data-testid` of the tab. */
  testid: string;
  /** CSS class of the tab. */
  className: string;
  /** Tab title, e.g. "MLflow". */
  label: string;
  /** Tab tooltip. */
  caption: string;
  /** Tooltips of the reload and open-in-new-tab buttons. */
  reloadTooltip: string;
  openTooltip: string;
  icon: LabIcon;
  trans: TranslationBundle;
}

/**
 * Main-area tab hosting a web UI the server extension proxies (MLflow,
 * Airflow) in an iframe, with reload and open-in-new-tab buttons.
 */
export class UIFrameWidget extends MainAreaWidget<IFrame> {
  constructor(options: IUIFrameOptions) {
    const content = new IFrame({
      sandbox: UI_FRAME_SANDBOX,
      referrerPolicy: 'same-origin'
    });
    content.url = options.url;
    super({ content });
    this._url = options.url;

    this.id = options.id;
    this.addClass(options.className);
    this.node.dataset.testid = options.testid;
    this.title.label = options.label;
    this.title.caption = options.caption;
    this.title.icon = options.icon;
    this.title.closable = true;

    this.toolbar.addItem(
      'reload',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: options.reloadTooltip,
        onClick: () => this.reload()
      })
    );
    this.toolbar.addItem(
      'open-in-new-tab',
      new ToolbarButton({
        icon: launchIcon,
        label: options.trans.__('Open in new tab'),
        tooltip: options.openTooltip,
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
   * The page currently displayed, or the initial URL if it cannot be read.
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

/**
 * Reveal the main-area tab `id` (a proxied UI, a report), creating it (and
 * tracking it, so that the layout restorer reopens it) when there is none.
 */
export async function openUIFrame<T extends Widget>(
  shell: JupyterFrontEnd.IShell,
  tracker: WidgetTracker<T>,
  id: string,
  create: () => T
): Promise<T> {
  let widget = tracker.find(w => w.id === id);
  if (!widget || widget.isDisposed) {
    widget = create();
    await tracker.add(widget);
  }
  if (!widget.isAttached) {
    shell.add(widget, 'main');
  }
  shell.activateById(widget.id);
  return widget;
}
