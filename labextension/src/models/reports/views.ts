import { type TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { errorMessage } from '../../common/api';
import { type Child, h } from '../../common/dom';
import {
  type IReport,
  type IReportPlot,
  type IReportSummary
} from '../../tokens';
import { button, loading } from '../render';
import { fetchReport, modelReports } from './api';
import {
  formatCreated,
  formatDelta,
  formatMetric,
  metricOrder,
  verdict
} from './format';
import {
  championDiff,
  facts,
  grid,
  metricsTable,
  missingReport,
  plotFigure,
  plotsGrid,
  qualityList,
  section,
  verdictChip
} from './render';

/**
 * The newest report of each of `versions` of `model` (`null`: none).
 */
async function latestReports(
  model: string,
  versions: string[]
): Promise<(IReportSummary | null)[]> {
  const reports = await modelReports(model);
  return versions.map(v => reports.find(r => r.version === v) ?? null);
}

/**
 * A view that fetches its data, then renders it; `load()` fetches again.
 * Late answers of an earlier `load()` are dropped.
 */
abstract class FetchingView<T> extends Widget {
  constructor(trans: TranslationBundle) {
    super();
    this.trans = trans;
    this.addClass('jp-MLPlatReport');
  }

  /**
   * The last value fetched, or `null`.
   */
  get value(): T | null {
    return this._value;
  }

  async load(): Promise<void> {
    const seq = ++this._seq;
    this.node.replaceChildren(this.loadingNode());
    try {
      const value = await this.fetch();
      if (seq === this._seq) {
        this._value = value;
        this.node.replaceChildren(...this.renderValue(value).filter(isNode));
      }
    } catch (error) {
      if (seq === this._seq) {
        this.node.replaceChildren(
          h(
            'div',
            {
              className: 'jp-MLPlatModels-error',
              testid: 'mlplat-report-error',
              attrs: { role: 'alert' }
            },
            errorMessage(error)
          )
        );
      }
    }
  }

  protected abstract fetch(): Promise<T>;
  protected abstract loadingNode(): HTMLElement;
  protected abstract renderValue(value: T): Child[];

  protected readonly trans: TranslationBundle;
  private _seq = 0;
  private _value: T | null = null;
}

function isNode(child: Child): child is Node {
  return child instanceof Node;
}

/**
 * One evaluation report: facts, metrics, champion diff, quality, plots.
 */
export class ReportView extends FetchingView<IReport> {
  constructor(options: ReportView.IOptions) {
    super(options.trans);
    this.reportId = options.id;
    this._openHtml = options.openHtml;
    this.node.dataset.testid = 'mlplat-report';
    this.node.addEventListener('click', this._onClick);
  }

  /** The report shown. */
  readonly reportId: string;

  override dispose(): void {
    this.node.removeEventListener('click', this._onClick);
    super.dispose();
  }

  protected fetch(): Promise<IReport> {
    return fetchReport(this.reportId);
  }

  protected loadingNode(): HTMLElement {
    return loading(this.trans.__('Loading the report…'));
  }

  protected renderValue(report: IReport): Child[] {
    const trans = this.trans;
    this.title.label = trans.__(
      'Report · %1 v%2',
      report.model?.name ?? '',
      report.model?.version ?? ''
    );
    return [
      h(
        'header',
        { className: 'jp-MLPlatReport-header' },
        h(
          'h2',
          {},
          trans.__(
            '%1 version %2',
            report.model?.name ?? '',
            report.model?.version ?? ''
          )
        ),
        h('span', { className: 'jp-MLPlatModels-chip' }, report.model_type),
        h('span', { className: 'jp-MLPlatModels-spacer' }),
        button(
          'open-html',
          trans.__('Open full report'),
          'mlplat-report-html',
          {
            title: trans.__('The self-contained report.html, as stored')
          }
        )
      ),
      h(
        'div',
        { className: 'jp-MLPlatReport-columns' },
        h(
          'div',
          {},
          section(
            trans.__('Holdout'),
            'mlplat-report-holdout-section',
            facts(trans, report)
          ),
          section(
            trans.__('Training data quality'),
            'mlplat-report-quality-section',
            qualityList(trans, report.quality)
          )
        ),
        section(
          trans.__('Metrics'),
          'mlplat-report-metrics-section',
          metricsTable(trans, report.metrics)
        )
      ),
      section(
        trans.__('Champion'),
        'mlplat-report-champion-section',
        championDiff(trans, report.champion, report.champion_note)
      ),
      section(
        trans.__('Plots'),
        'mlplat-report-plots-section',
        plotsGrid(trans, report)
      )
    ];
  }

  private _onClick = (event: MouseEvent): void => {
    const target = event.target instanceof Element ? event.target : null;
    if (target?.closest('[data-action="open-html"]') && this.value) {
      this._openHtml(this.value);
    }
  };

  private _openHtml: (report: IReport) => void;
}

/**
 * A namespace for `ReportView` statics.
 */
export namespace ReportView {
  export interface IOptions {
    /** Report id. */
    id: string;
    /** Open the stored report.html. */
    openHtml: (report: IReport) => void;
    trans: TranslationBundle;
  }
}

/**
 * Two versions of a model and their newest reports (`null`: none).
 */
export interface IComparison {
  model: string;
  versions: [string, string];
  reports: [IReport | null, IReport | null];
}

/**
 * Two versions' reports side by side: metrics with both values, the delta
 * and the better one; plots in two columns. A version without a report
 * shows the command that makes one.
 */
export class CompareView extends FetchingView<IComparison> {
  constructor(options: CompareView.IOptions) {
    super(options.trans);
    this.model = options.model;
    this.versions = options.versions;
    this.node.dataset.testid = 'mlplat-report-compare';
    this.addClass('jp-mod-compare');
  }

  readonly model: string;
  readonly versions: [string, string];

  protected async fetch(): Promise<IComparison> {
    const summaries = await latestReports(this.model, [...this.versions]);
    const reports = await Promise.all(
      summaries.map(s => (s ? fetchReport(s.id) : Promise.resolve(null)))
    );
    return {
      model: this.model,
      versions: this.versions,
      reports: [reports[0], reports[1]]
    };
  }

  protected loadingNode(): HTMLElement {
    return loading(this.trans.__('Loading the reports…'));
  }

  protected renderValue(comparison: IComparison): Child[] {
    const trans = this.trans;
    const [a, b] = comparison.reports;
    const [va, vb] = comparison.versions;
    const table = (a ?? b)?.holdout?.table;
    return [
      h(
        'header',
        { className: 'jp-MLPlatReport-header' },
        h(
          'h2',
          {},
          trans.__('%1: version %2 and version %3', comparison.model, va, vb)
        )
      ),
      h(
        'div',
        { className: 'jp-MLPlatReport-columns' },
        this._side(comparison.model, va, a, table),
        this._side(comparison.model, vb, b, table)
      ),
      a && b && a.holdout?.digest !== b.holdout?.digest
        ? h(
            'p',
            {
              className: 'jp-MLPlatReport-warning',
              testid: 'mlplat-compare-holdouts'
            },
            trans.__(
              'The two versions were evaluated on different holdouts: compare with care.'
            )
          )
        : null,
      a || b
        ? section(
            trans.__('Metrics'),
            'mlplat-compare-metrics-section',
            this._metrics(va, a, vb, b)
          )
        : null,
      a || b
        ? section(
            trans.__('Plots'),
            'mlplat-compare-plots-section',
            this._plots(a, b)
          )
        : null
    ];
  }

  private _side(
    model: string,
    version: string,
    report: IReport | null,
    table?: string
  ): HTMLElement {
    const trans = this.trans;
    return h(
      'div',
      {
        className: 'jp-MLPlatReport-column',
        testid: `mlplat-compare-side-${version}`
      },
      h('h3', { className: 'jp-MLPlatReport-heading' }, `v${version}`),
      report
        ? h(
            'div',
            { className: 'jp-MLPlatModels-muted' },
            trans.__(
              '%1 · %2 rows · %3',
              report.holdout?.table ?? '',
              report.holdout?.rows ?? '',
              formatCreated(report.created)
            )
          )
        : missingReport(trans, model, version, table)
    );
  }

  private _metrics(
    va: string,
    a: IReport | null,
    vb: string,
    b: IReport | null
  ): HTMLElement {
    const trans = this.trans;
    const ma = a?.metrics ?? {};
    const mb = b?.metrics ?? {};
    const names = metricOrder([...Object.keys(ma), ...Object.keys(mb)]);
    return grid(
      [
        trans.__('Metric'),
        `v${va}`,
        `v${vb}`,
        trans.__('Delta (v%1 − v%2)', vb, va),
        trans.__('Better')
      ],
      names.map(name => {
        const x = ma[name];
        const y = mb[name];
        const judged = verdict(name, y, x); // how B fares against A
        const delta =
          typeof x === 'number' && typeof y === 'number' ? y - x : null;
        const better =
          judged === 'better' ? `v${vb}` : judged === 'worse' ? `v${va}` : null;
        return {
          cells: [
            name,
            formatMetric(x),
            formatMetric(y),
            formatDelta(delta),
            judged
              ? verdictChip(trans, judged, better ?? trans.__('same'))
              : '—'
          ],
          attrs: { 'data-metric': name, 'data-better': better ?? judged ?? '' }
        };
      }),
      'mlplat-compare-metrics'
    );
  }

  private _plots(a: IReport | null, b: IReport | null): HTMLElement {
    const trans = this.trans;
    const pa = new Map((a?.plots ?? []).map(p => [p.name, p] as const));
    const pb = new Map((b?.plots ?? []).map(p => [p.name, p] as const));
    const names = [...new Set([...pa.keys(), ...pb.keys()])];
    const figure = (report: IReport | null, plot: IReportPlot | undefined) =>
      report
        ? plotFigure(trans, plot ?? null, report.id)
        : h('div', { className: 'jp-MLPlatReport-plot' });
    return h(
      'div',
      {
        className: 'jp-MLPlatReport-plotPairs',
        testid: 'mlplat-compare-plots'
      },
      ...names.map(name =>
        h(
          'div',
          {
            className: 'jp-MLPlatReport-columns',
            attrs: { 'data-plot': name }
          },
          figure(a, pa.get(name)),
          figure(b, pb.get(name))
        )
      )
    );
  }
}

/**
 * A namespace for `CompareView` statics.
 */
export namespace CompareView {
  export interface IOptions {
    model: string;
    versions: [string, string];
    trans: TranslationBundle;
  }
}
