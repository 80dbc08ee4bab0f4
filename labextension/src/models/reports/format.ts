import { type TranslationBundle } from '@jupyterlab/translation';

import { type Verdict } from '../../tokens';

/**
 * Metrics shown first (and as the version's badge), in order of preference:
 * the ones `mlflow.models.evaluate` logs for classifiers and regressors.
 */
const KEY_METRICS = [
  'f1_score',
  'accuracy_score',
  'roc_auc',
  'r2_score',
  'root_mean_squared_error',
  'mean_absolute_error'
];

/**
 * The metric a report is summed up by: a well-known one if present, else
 * the first by name; `null` when there is none.
 */
export function keyMetric(metrics: Record<string, number>): string | null {
  const names = Object.keys(metrics ?? {});
  return (
    KEY_METRICS.find(name => names.includes(name)) ??
    names.sort((a, b) => a.localeCompare(b))[0] ??
    null
  );
}

/**
 * Metric names, well-known ones first, then by name.
 */
export function metricOrder(names: Iterable<string>): string[] {
  const rank = (name: string): number => {
    const index = KEY_METRICS.indexOf(name);
    return index < 0 ? KEY_METRICS.length : index;
  };
  return [...new Set(names)].sort(
    (a, b) => rank(a) - rank(b) || a.localeCompare(b)
  );
}

/**
 * Metrics of `mlflow.models.evaluate` where more is better, and where less
 * is: the lists of the server's champion diff (`reports/compare.py`).
 */
const HIGHER_IS_BETTER = [
  'accuracy_score',
  'f1_score',
  'precision_score',
  'recall_score',
  'roc_auc',
  'precision_recall_auc',
  'score',
  'r2_score',
  'true_positives',
  'true_negatives'
];
const LOWER_IS_BETTER = [
  'log_loss',
  'max_error',
  'mean_absolute_error',
  'mean_absolute_percentage_error',
  'mean_squared_error',
  'root_mean_squared_error',
  'false_positives',
  'false_negatives'
];

/**
 * +1 when more of a metric is better, -1 when less is, 0 when neither
 * (counts, sums: not compared). Per-class variants (`f1_score_setosa`) go
 * by their base name.
 */
export function direction(metric: string): number {
  const matches = (names: string[]) =>
    names.some(name => metric === name || metric.startsWith(`${name}_`));
  return matches(HIGHER_IS_BETTER) ? 1 : matches(LOWER_IS_BETTER) ? -1 : 0;
}

/**
 * How `value` compares with `other` for `metric`; `null` when either is
 * missing or the metric has no better direction.
 */
export function verdict(
  metric: string,
  value: number | null | undefined,
  other: number | null | undefined
): Verdict | null {
  const sign = direction(metric);
  if (typeof value !== 'number' || typeof other !== 'number' || sign === 0) {
    return null;
  }
  const tolerance = 1e-9 * Math.max(Math.abs(value), Math.abs(other), 1);
  if (Math.abs(value - other) <= tolerance) {
    return 'same';
  }
  return (value - other) * sign > 0 ? 'better' : 'worse';
}

/**
 * A metric value for display (four significant digits).
 */
export function formatMetric(value: number | null | undefined): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return value === null || value === undefined ? '—' : String(value);
  }
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

/**
 * A difference for display, with its sign.
 */
export function formatDelta(delta: number | null | undefined): string {
  if (typeof delta !== 'number' || !Number.isFinite(delta)) {
    return '—';
  }
  const text = formatMetric(Math.abs(delta));
  return delta > 0 ? `+${text}` : delta < 0 ? `−${text}` : '0';
}

/**
 * A report's creation time for display.
 */
export function formatCreated(created: number | string): string {
  const date = new Date(typeof created === 'number' ? created * 1000 : created);
  return Number.isNaN(date.getTime()) ? String(created) : date.toLocaleString();
}

/**
 * The words of a verdict.
 */
export function verdictLabel(
  trans: TranslationBundle,
  value: string | null
): string {
  switch (value) {
    case 'better':
      return trans.__('better');
    case 'worse':
      return trans.__('worse');
    case 'same':
      return trans.__('same');
    default:
      return value ?? '—';
  }
}

/**
 * The `%mlp` line that makes a report for a version.
 */
export function evaluateCommand(
  model: string,
  version: string,
  table?: string
): string {
  return `%mlp evaluate models:/${model}/${version} --table ${table || 'DB.TABLE'}`;
}
