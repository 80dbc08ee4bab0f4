import { Time } from '@jupyterlab/coreutils';
import { type TranslationBundle } from '@jupyterlab/translation';

import { h } from '../common/dom';

/**
 * DOM helpers shared by the pipelines widgets.
 */

/**
 * A state as Airflow's UI shows it: a chip in Airflow's own colour for that
 * state (`data-state` selects it in pipelines.css).
 */
export function stateChip(
  trans: TranslationBundle,
  state: string | null,
  options: { label?: string; testid?: string; title?: string } = {}
): HTMLElement {
  const name = state || 'none';
  return h(
    'span',
    {
      className: 'jp-MLPlatPipelines-state',
      testid: options.testid,
      title: options.title ?? stateLabel(trans, state),
      attrs: { 'data-state': name }
    },
    options.label ?? stateLabel(trans, state)
  );
}

/**
 * A translated state name ("no status" before the scheduler looked at it).
 */
export function stateLabel(
  trans: TranslationBundle,
  state: string | null
): string {
  const labels: Record<string, string> = {
    queued: trans.__('queued'),
    scheduled: trans.__('scheduled'),
    running: trans.__('running'),
    success: trans.__('success'),
    failed: trans.__('failed'),
    upstream_failed: trans.__('upstream failed'),
    up_for_retry: trans.__('up for retry'),
    up_for_reschedule: trans.__('up for reschedule'),
    skipped: trans.__('skipped'),
    deferred: trans.__('deferred'),
    removed: trans.__('removed'),
    restarting: trans.__('restarting')
  };
  return state ? (labels[state] ?? state) : trans.__('no status');
}

/**
 * Units of a relative time, largest first.
 */
const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600 * 1000],
  ['month', 30 * 24 * 3600 * 1000],
  ['day', 24 * 3600 * 1000],
  ['hour', 3600 * 1000],
  ['minute', 60 * 1000],
  ['second', 1000]
];

/**
 * "3 minutes ago" / "in 5 hours" (`Time.formatHuman` rounds future times up
 * to the largest unit: a run tomorrow would read "next year").
 */
export function relativeTime(value: string, now = Date.now()): string {
  const formatter = new Intl.RelativeTimeFormat(
    document.documentElement.lang || 'en',
    { numeric: 'auto' }
  );
  const delta = new Date(value).getTime() - now;
  for (const [unit, ms] of UNITS) {
    if (Math.abs(delta) >= ms || unit === 'second') {
      return formatter.format(Math.round(delta / ms), unit);
    }
  }
  return formatter.format(0, 'second');
}

/**
 * A relative time with the exact time as tooltip; "—" if unset.
 */
export function when(value: string | null | undefined): HTMLElement {
  if (!value) {
    return h('span', { className: 'jp-MLPlatPipelines-muted' }, '—');
  }
  return h(
    'time',
    { title: Time.format(value), attrs: { datetime: value } },
    relativeTime(value)
  );
}
