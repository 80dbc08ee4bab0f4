import { type TranslationBundle } from '@jupyterlab/translation';
import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';

import { h } from '../common/dom';
import { type IQualityResult } from '../tokens';

/**
 * DOM helpers shared by the models widgets.
 */

export function caret(open: boolean): HTMLElement {
  return (open ? caretDownIcon : caretRightIcon).element({
    tag: 'span',
    className: 'jp-MLPlatModels-caret'
  });
}

export function aliasChip(
  trans: TranslationBundle,
  alias: string,
  version?: string
): HTMLElement {
  return h(
    'span',
    {
      className: 'jp-MLPlatModels-chip jp-mod-alias',
      title: version
        ? trans.__('Alias @%1 → version %2', alias, version)
        : trans.__('Alias')
    },
    version ? `@${alias} → v${version}` : `@${alias}`
  );
}

export function qualityBadge(
  trans: TranslationBundle,
  result: IQualityResult
): HTMLElement {
  const passed = result.status === 'passed';
  const ratio =
    result.success_ratio === null
      ? ''
      : ` ${Math.round(result.success_ratio * 100)}%`;
  const failed =
    result.failed_count !== null && result.failed_count > 0
      ? `, ${trans.__('%1 failed', result.failed_count)}`
      : '';
  return h(
    'span',
    {
      className: `jp-MLPlatModels-badge ${passed ? 'jp-mod-pass' : 'jp-mod-fail'}`,
      testid: `mlplat-quality-${result.name}`,
      title: `${trans.__('Check %1: %2', result.name, result.status || trans.__('unknown'))}${ratio}${failed}`,
      attrs: { 'data-status': result.status }
    },
    `${passed ? '✓' : '✗'} ${result.name}${ratio}`
  );
}

export function table(
  title: string,
  values: Record<string, string | number>,
  testid: string,
  format: (value: string | number) => string = String
): HTMLElement | null {
  const entries = Object.entries(values ?? {}).sort(([a], [b]) =>
    a.localeCompare(b)
  );
  if (entries.length === 0) {
    return null;
  }
  return h(
    'div',
    { className: 'jp-MLPlatModels-table' },
    h('span', { className: 'jp-MLPlatModels-label' }, title),
    h(
      'table',
      { testid: `mlplat-model-${testid}` },
      h(
        'tbody',
        {},
        ...entries.map(([key, value]) =>
          h('tr', {}, h('th', {}, key), h('td', {}, format(value)))
        )
      )
    )
  );
}

export function formatNumber(value: string | number): string {
  return typeof value === 'number' && !Number.isInteger(value)
    ? value.toPrecision(4)
    : String(value);
}

/**
 * A button dispatching `action` through the view's click handler.
 */
export function button(
  action: string,
  label: string,
  testid: string,
  options: { title?: string; primary?: boolean; danger?: boolean } = {}
): HTMLButtonElement {
  const modifier = options.primary
    ? ' jp-mod-accept'
    : options.danger
      ? ' jp-mod-warn'
      : '';
  return h(
    'button',
    {
      className: `jp-MLPlatModels-button${modifier}`,
      testid,
      title: options.title,
      attrs: { type: 'button', 'data-action': action }
    },
    label
  );
}

/**
 * A spinner with a message.
 */
export function loading(message: string, testid?: string): HTMLElement {
  return h(
    'div',
    {
      className: 'jp-MLPlatModels-loading',
      testid,
      attrs: { role: 'status' }
    },
    h('span', {
      className: 'jp-MLPlatModels-spinner',
      attrs: { 'aria-hidden': 'true' }
    }),
    message
  );
}
