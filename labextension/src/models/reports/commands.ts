import {
  type ILayoutRestorer,
  type JupyterFrontEnd
} from '@jupyterlab/application';
import { MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { type TranslationBundle } from '@jupyterlab/translation';
import { refreshIcon, ToolbarButton } from '@jupyterlab/ui-components';
import { type ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';

import { errorMessage, requestText } from '../../common/api';
import { h } from '../../common/dom';
import { segment } from '../../common/remotemodel';
import { openUIFrame } from '../../common/uiframe';
import { CommandIDs, type IReport } from '../../tokens';
import { modelsIcon } from '../icons';
import { loading } from '../render';
import { CompareView, ReportView } from './views';

type ReportTab = MainAreaWidget<ReportView | CompareView | FullReport>;

/**
 * What a report page may load, as the server's `/html` route says it too: its
 * inline styles and `data:` images, nothing else.
 */
const REPORT_PAGE_POLICY =
  "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

/**
 * A report page with its policy in a `<meta>` (a `srcdoc` gets no headers).
 */
export function withPolicy(html: string): string {
  const meta = `<meta http-equiv="Content-Security-Policy" content="${REPORT_PAGE_POLICY}">`;
  const head = /<head(\s[^>]*)?>/i.exec(html);
  if (head) {
    const end = head.index + head[0].length;
    return html.slice(0, end) + meta + html.slice(end);
  }
  return meta + html;
}

/**
 * The stored report.html in a sandboxed frame: fetched with the lab's
 * credentials and shown through `srcdoc`, in a unique origin, with no
 * scripts and the page policy of the server's route.
 */
class FullReport extends Widget {
  constructor(report: IReport, trans: TranslationBundle) {
    super();
    this.reportId = report.id;
    this.addClass('jp-MLPlatReport-html');
    this.node.dataset.testid = 'mlplat-report-full';
    this.title.label = trans.__(
      'report.html · %1 v%2',
      report.model.name,
      report.model.version
    );
    this.node.append(loading(trans.__('Loading report.html…')));
    void requestText(`reports/${segment(report.id)}/html`).then(
      html => {
        const frame = h('iframe', {
          attrs: {
            sandbox: '',
            referrerpolicy: 'no-referrer',
            title: this.title.label
          }
        });
        frame.srcdoc = withPolicy(html);
        this.node.replaceChildren(frame);
      },
      error => {
        this.node.replaceChildren(
          h(
            'div',
            { className: 'jp-MLPlatModels-error', attrs: { role: 'alert' } },
            errorMessage(error)
          )
        );
      }
    );
  }

  readonly reportId: string;
}

/**
 * Show the report tab `id`, made by `create` when it is not open.
 */
function reveal(
  app: JupyterFrontEnd,
  tracker: WidgetTracker<ReportTab>,
  id: string,
  create: () => ReportTab
): Promise<ReportTab> {
  return openUIFrame(app.shell, tracker, id, () => {
    const tab = create();
    tab.id = id;
    tab.title.icon = modelsIcon;
    tab.title.closable = true;
    return tab;
  });
}

/**
 * A report tab with a reload button.
 */
function reloadable(
  content: ReportView | CompareView,
  trans: TranslationBundle
): ReportTab {
  const tab: ReportTab = new MainAreaWidget({ content });
  tab.toolbar.addItem(
    'reload',
    new ToolbarButton({
      icon: refreshIcon,
      tooltip: trans.__('Reload'),
      onClick: () => void content.load()
    })
  );
  void content.load();
  return tab;
}

/**
 * `mlplat:open-report` (args `id`) and `mlplat:compare-reports` (args
 * `model`, `versions`): report tabs in the main area, restored with the
 * layout.
 */
export function addReportCommands(
  app: JupyterFrontEnd,
  trans: TranslationBundle,
  restorer: ILayoutRestorer | null
): void {
  const { commands } = app;
  const tracker = new WidgetTracker<ReportTab>({ namespace: 'mlplat-reports' });

  const openHtml = (report: IReport): Promise<ReportTab> =>
    reveal(
      app,
      tracker,
      `mlplat-report-html-${report.id}`,
      () => new MainAreaWidget({ content: new FullReport(report, trans) })
    );

  commands.addCommand(CommandIDs.openReport, {
    label: trans.__('Open Evaluation Report'),
    caption: trans.__('Show a model version evaluation report'),
    execute: args => {
      if (args.model !== undefined) {
        // A restored comparison tab (the restorer knows one command).
        return commands.execute(CommandIDs.compareReports, args);
      }
      const id = typeof args.id === 'string' ? args.id : '';
      if (!id) {
        return;
      }
      return reveal(app, tracker, `mlplat-report-${id}`, () => {
        const view = new ReportView({
          id,
          trans,
          openHtml: report => void openHtml(report)
        });
        view.title.label = trans.__('Report %1', id.slice(0, 8));
        return reloadable(view, trans);
      });
    }
  });

  commands.addCommand(CommandIDs.compareReports, {
    label: trans.__('Compare Evaluation Reports'),
    caption: trans.__('Show the reports of two model versions side by side'),
    execute: args => {
      const model = typeof args.model === 'string' ? args.model : '';
      const versions = (args.versions ?? []) as string[];
      if (!model || versions.length !== 2) {
        return;
      }
      const pair: [string, string] = [String(versions[0]), String(versions[1])];
      return reveal(
        app,
        tracker,
        `mlplat-compare-${model}-${pair.join('-')}`,
        () => {
          const view = new CompareView({ model, versions: pair, trans });
          view.title.label = trans.__('%1 v%2 ↔ v%3', model, pair[0], pair[1]);
          return reloadable(view, trans);
        }
      );
    }
  });

  if (restorer) {
    void restorer.restore(tracker, {
      command: CommandIDs.openReport,
      args: tab => restoreArgs(tab.content),
      name: tab => tab.id
    });
  }
}

/**
 * How to reopen a tab after a reload (a full report reopens as its report).
 */
function restoreArgs(
  content: ReportView | CompareView | FullReport
): ReadonlyPartialJSONObject {
  if (content instanceof CompareView) {
    return { model: content.model, versions: [...content.versions] };
  }
  return { id: content.reportId };
}
