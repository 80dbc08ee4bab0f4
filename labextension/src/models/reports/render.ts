import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { type TranslationBundle } from '@jupyterlab/translation';

import { type Child, h } from '../../common/dom';
import {
  type IChampionComparison,
  type IQualityResult,
  type IReport,
  type IReportPlot
} from '../../tokens';
import { qualityBadge } from '../render';
import {
  evaluateCommand,
  formatCreated,
  formatDelta,
  formatMetric,
  metricOrder,
  verdictLabel
} from './format';

/**
 * DOM of the report and comparison views (class prefix `jp-MLPlatReport`).
 */

/**
 * A quiet line saying what is not there.
 */
function muted(text: string, testid?: string): HTMLElement {
  return h('div', { className: 'jp-MLPlatModels-muted', testid }, text);
}

/**
 * A titled section.
 */
export function section(
  title: string,
  testid: string,
  ...children: Child[]
): HTMLElement {
  return h(
    'section',
    { className: 'jp-MLPlatReport-section', testid },
    h('h3', { className: 'jp-MLPlatReport-heading' }, title),
    ...children
  );
}

/**
 * A table with a header row; cells are nodes or text.
 */
export function grid(
  head: string[],
  rows: { cells: Child[]; attrs?: Record<string, string> }[],
  testid: string
): HTMLTableElement {
  return h(
    'table',
    { className: 'jp-MLPlatReport-table', testid },
    h('thead', {}, h('tr', {}, ...head.map(c => h('th', {}, c)))),
    h(
      'tbody',
      {},
      ...rows.map(row =>
        h('tr', { attrs: row.attrs }, ...row.cells.map(c => h('td', {}, c)))
      )
    )
  );
}

/**
 * A better / worse / same chip, coloured.
 */
export function verdictChip(
  trans: TranslationBundle,
  value: string | null,
  text?: string
): HTMLElement {
  return h(
    'span',
    {
      className: 'jp-MLPlatReport-verdict',
      attrs: { 'data-verdict': value ?? 'none' }
    },
    text ?? verdictLabel(trans, value)
  );
}

/**
 * Facts about a report: model, type, holdout table, rows, label, digest, date.
 */
export function facts(trans: TranslationBundle, report: IReport): HTMLElement {
  const holdout = report.holdout ?? ({} as IReport['holdout']);
  const digest = holdout.digest ?? '';
  const items: [string, string, string?][] = [
    [trans.__('Model'), report.model?.uri || report.model?.name || ''],
    [trans.__('Type'), report.model_type],
    [trans.__('Table'), holdout.table],
    [trans.__('Rows'), holdout.rows?.toLocaleString?.() ?? ''],
    [trans.__('Label'), holdout.label],
    // the full digest in the tooltip (and the search takes a prefix)
    [
      trans.__('Digest'),
      digest.length > 16 ? `${digest.slice(0, 16)}…` : digest,
      digest
    ],
    [trans.__('Created'), formatCreated(report.created)]
  ];
  return h(
    'dl',
    { className: 'jp-MLPlatReport-facts', testid: 'mlplat-report-holdout' },
    ...items
      .filter(([, value]) => value)
      .flatMap(([label, value, title]) => [
        h('dt', {}, label),
        h('dd', { title }, value)
      ])
  );
}

/**
 * The metrics of a report.
 */
export function metricsTable(
  trans: TranslationBundle,
  metrics: Record<string, number>
): HTMLElement {
  const names = metricOrder(Object.keys(metrics ?? {}));
  if (names.length === 0) {
    return muted(trans.__('No metrics.'));
  }
  return grid(
    [trans.__('Metric'), trans.__('Value')],
    names.map(name => ({
      cells: [name, formatMetric(metrics[name])],
      attrs: { 'data-metric': name }
    })),
    'mlplat-report-metrics'
  );
}

/**
 * The side-by-side diff against the champion, or why there is none.
 */
export function championDiff(
  trans: TranslationBundle,
  champion: IChampionComparison | null,
  note?: string
): HTMLElement {
  if (!champion) {
    return muted(
      note || trans.__('No champion to compare with.'),
      'mlplat-report-champion'
    );
  }
  return h(
    'div',
    { testid: 'mlplat-report-champion' },
    h(
      'p',
      { className: 'jp-MLPlatReport-caption' },
      trans.__(
        'Against @%1 (version %2), evaluated on the same holdout.',
        champion.alias,
        champion.version
      )
    ),
    grid(
      [
        trans.__('Metric'),
        trans.__('This version'),
        trans.__('Champion'),
        trans.__('Delta'),
        trans.__('Verdict')
      ],
      (champion.diff ?? []).map(d => ({
        cells: [
          d.metric,
          formatMetric(d.value),
          formatMetric(d.champion),
          formatDelta(d.delta),
          verdictChip(trans, d.verdict)
        ],
        attrs: { 'data-metric': d.metric, 'data-verdict': d.verdict }
      })),
      'mlplat-report-diff'
    )
  );
}

/**
 * The training run's data-quality results.
 */
export function qualityList(
  trans: TranslationBundle,
  quality: IQualityResult[]
): HTMLElement {
  if (!quality || quality.length === 0) {
    return muted(trans.__('The training run recorded no data-quality checks.'));
  }
  return h(
    'div',
    { className: 'jp-MLPlatModels-quality', testid: 'mlplat-report-quality' },
    ...quality.map(q => qualityBadge(trans, q))
  );
}

/**
 * Where a plot's image comes from: inline PNG, or the artifact of the
 * evaluation run (the report id) through the lab's MLflow proxy; `null`
 * when neither.
 */
export function plotSource(plot: IReportPlot, runId: string): string | null {
  if (plot.png_base64) {
    return `data:image/png;base64,${plot.png_base64}`;
  }
  if (plot.artifact) {
    return URLExt.join(
      PageConfig.getBaseUrl(),
      'mlplat/mlflow/get-artifact'
    ).concat(
      `?path=${encodeURIComponent(plot.artifact)}&run_uuid=${encodeURIComponent(runId)}`
    );
  }
  return null;
}

/**
 * One plot with its title (or a placeholder).
 */
export function plotFigure(
  trans: TranslationBundle,
  plot: IReportPlot | null,
  runId: string
): HTMLElement {
  const src = plot ? plotSource(plot, runId) : null;
  const title = plot ? plot.title || plot.name : '';
  return h(
    'figure',
    {
      className: 'jp-MLPlatReport-plot',
      attrs: plot ? { 'data-plot': plot.name } : {}
    },
    src
      ? h('img', { attrs: { src, alt: title, loading: 'lazy' } })
      : h(
          'div',
          { className: 'jp-MLPlatReport-noPlot' },
          trans.__('No such plot')
        ),
    h('figcaption', {}, title)
  );
}

/**
 * The plots of a report.
 */
export function plotsGrid(
  trans: TranslationBundle,
  report: IReport
): HTMLElement {
  const plots = report.plots ?? [];
  if (plots.length === 0) {
    return muted(trans.__('No plots.'));
  }
  return h(
    'div',
    { className: 'jp-MLPlatReport-plots', testid: 'mlplat-report-plots' },
    ...plots.map(p => plotFigure(trans, p, report.id))
  );
}

/**
 * What to run to make a report for a version that has none.
 */
export function missingReport(
  trans: TranslationBundle,
  model: string,
  version: string,
  table?: string
): HTMLElement {
  return h(
    'div',
    {
      className: 'jp-MLPlatReport-missing',
      testid: `mlplat-report-missing-${version}`
    },
    h(
      'p',
      {},
      trans.__(
        'Version %1 has no evaluation report. Make one in a notebook:',
        version
      )
    ),
    h('code', {}, evaluateCommand(model, version, table))
  );
}
