import { type TranslationBundle } from '@jupyterlab/translation';
import {
  caretDownIcon,
  caretRightIcon,
  type LabIcon
} from '@jupyterlab/ui-components';

import { type Child, h } from '../common/dom';
import { type ILoadable } from '../common/remotemodel';
import { type ICatalogPreview } from '../tokens';
import { TABLE_ITEM_CLASS, tableRefOf } from './actions';
import { CATALOG_TABLE_MIME, tableSnippet } from './model';

/**
 * DOM helpers shared by the catalog widgets.
 */

const NUMERIC_TYPE =
  /^(tinyint|smallint|int|integer|bigint|long|short|byte|float|double|real|decimal)/i;

const FLOAT_TYPE = /^(float|double|real)/i;

/**
 * The data preview grid: an HTML table with a sticky header.
 */
export function previewGrid(
  trans: TranslationBundle,
  data: ICatalogPreview
): HTMLElement {
  const numeric = data.columns.map(c => NUMERIC_TYPE.test(c.type ?? ''));
  const float = data.columns.map(c => FLOAT_TYPE.test(c.type ?? ''));
  const head = h(
    'tr',
    {},
    h(
      'th',
      { className: 'jp-MLPlatCatalog-rowNumber', title: trans.__('Row') },
      '#'
    ),
    ...data.columns.map(column =>
      h(
        'th',
        {
          title: `${column.name}: ${column.type ?? trans.__('unknown type')}`
        },
        h('span', { className: 'jp-MLPlatCatalog-colName' }, column.name),
        column.type &&
          h('span', { className: 'jp-MLPlatCatalog-colType' }, column.type)
      )
    )
  );
  const body = data.rows.map((row, index) =>
    h(
      'tr',
      {},
      h('td', { className: 'jp-MLPlatCatalog-rowNumber' }, index + 1),
      ...data.columns.map((_, i) => gridCell(row[i], numeric[i], float[i]))
    )
  );
  if (body.length === 0) {
    body.push(
      h(
        'tr',
        {},
        h(
          'td',
          {
            className: 'jp-MLPlatCatalog-emptyGrid',
            attrs: { colspan: String(data.columns.length + 1) }
          },
          trans.__('The table is empty.')
        )
      )
    );
  }
  return h(
    'div',
    { className: 'jp-MLPlatCatalog-gridWrap' },
    h(
      'table',
      {
        className: 'jp-MLPlatCatalog-grid',
        testid: 'mlplat-catalog-preview'
      },
      h('thead', {}, head),
      h('tbody', {}, ...body)
    )
  );
}

export function gridCell(
  value: unknown,
  numeric: boolean,
  float: boolean
): HTMLElement {
  if (value === null || value === undefined) {
    return h('td', { className: 'jp-mod-null' }, 'null');
  }
  const shown =
    // JSON drops the ".0" of whole floating-point numbers: put it back.
    float && typeof value === 'number' && Number.isInteger(value)
      ? value.toFixed(1)
      : typeof value === 'string'
        ? value
        : typeof value === 'number' ||
            typeof value === 'boolean' ||
            typeof value === 'bigint'
          ? String(value)
          : (JSON.stringify(value) ?? '');
  const cell = h('td', {}, shown);
  if (numeric || typeof value === 'number') {
    cell.classList.add('jp-mod-numeric');
  }
  if (shown.length > 40) {
    cell.title = shown;
  }
  return cell;
}

export interface ITreeItemOptions {
  key: string;
  level: number;
  kind: 'db' | 'table' | 'column';
  expanded?: boolean;
  selected?: boolean;
  testid: string;
  title?: string;
  className?: string;
  attrs?: Record<string, string>;
}

export function treeItem(
  options: ITreeItemOptions,
  ...children: Child[]
): HTMLElement {
  const expandable = options.expanded !== undefined;
  const attrs: Record<string, string> = {
    role: 'treeitem',
    tabindex: '-1',
    'aria-level': String(options.level),
    'data-kind': options.kind,
    'data-focuskey': options.key,
    ...options.attrs
  };
  if (expandable) {
    attrs['aria-expanded'] = String(options.expanded);
  }
  if (options.kind === 'table') {
    attrs['aria-selected'] = String(Boolean(options.selected));
  }
  const caret = expandable
    ? (options.expanded ? caretDownIcon : caretRightIcon).element({
        tag: 'span',
        className: 'jp-MLPlatCatalog-caret'
      })
    : h('span', { className: 'jp-MLPlatCatalog-caret jp-mod-leaf' });
  return h(
    'li',
    {
      className: `jp-MLPlatCatalog-item ${options.className ?? ''}`.trim(),
      testid: options.testid,
      title: options.title,
      attrs
    },
    caret,
    ...children
  );
}

/**
 * Placeholder row under an expanded node: loading, error (with retry) or empty.
 */
export function childState<T>(
  trans: TranslationBundle,
  state: ILoadable<T>,
  options: {
    level: number;
    /** "Could not load …" / "Loading …" messages. */
    failed: string;
    loading: string;
    empty: string | null;
    retry: { action: string; database: string; table?: string };
    testid: string;
  }
): HTMLElement | null {
  const indent = { 'aria-level': String(options.level), role: 'none' };
  if (state.status === 'error') {
    const retryAttrs: Record<string, string> = {
      type: 'button',
      'data-action': options.retry.action,
      'data-database': options.retry.database
    };
    if (options.retry.table !== undefined) {
      retryAttrs['data-table'] = options.retry.table;
    }
    return h(
      'li',
      {
        className:
          'jp-MLPlatCatalog-item jp-MLPlatCatalog-childState jp-mod-error',
        testid: `mlplat-catalog-error-${options.testid}`,
        attrs: { ...indent, role: 'treeitem', tabindex: '-1' }
      },
      h('span', { className: 'jp-MLPlatCatalog-caret jp-mod-leaf' }),
      h(
        'span',
        {
          className: 'jp-MLPlatCatalog-childMessage',
          title: state.error ?? ''
        },
        `${options.failed}: ${state.error ?? trans.__('unknown error')}`
      ),
      h(
        'button',
        { className: 'jp-MLPlatCatalog-linkButton', attrs: retryAttrs },
        trans.__('Retry')
      )
    );
  }
  if (state.value === null) {
    return h(
      'li',
      {
        className: 'jp-MLPlatCatalog-item jp-MLPlatCatalog-childState',
        testid: `mlplat-catalog-loading-${options.testid}`,
        attrs: indent
      },
      h('span', { className: 'jp-MLPlatCatalog-caret jp-mod-leaf' }),
      spinner(),
      h('span', { className: 'jp-MLPlatCatalog-childMessage' }, options.loading)
    );
  }
  const isEmpty = Array.isArray(state.value)
    ? state.value.length === 0
    : options.empty !== null;
  if (isEmpty && options.empty) {
    return h(
      'li',
      {
        className: 'jp-MLPlatCatalog-item jp-MLPlatCatalog-childState',
        testid: `mlplat-catalog-empty-${options.testid}`,
        attrs: indent
      },
      h('span', { className: 'jp-MLPlatCatalog-caret jp-mod-leaf' }),
      h('span', { className: 'jp-MLPlatCatalog-childMessage' }, options.empty)
    );
  }
  return null;
}

export function loadingBox(testid: string, message: string): HTMLElement {
  return h(
    'div',
    {
      className: 'jp-MLPlatCatalog-loading',
      testid,
      attrs: { role: 'status' }
    },
    spinner(),
    message
  );
}

export function errorBox(
  trans: TranslationBundle,
  testid: string,
  title: string,
  message: string | null,
  retryAction: string
): HTMLElement {
  return h(
    'div',
    {
      className: 'jp-MLPlatCatalog-error',
      testid,
      attrs: { role: 'alert' }
    },
    h(
      'div',
      { className: 'jp-MLPlatCatalog-errorText' },
      h('strong', {}, `${title}: `),
      h(
        'span',
        { className: 'jp-MLPlatCatalog-errorMessage' },
        message ?? trans.__('unknown error')
      )
    ),
    h(
      'button',
      {
        className: 'jp-MLPlatCatalog-button',
        testid: `${testid}-retry`,
        attrs: {
          type: 'button',
          'data-action': retryAction,
          'data-focuskey': `${testid}-retry`
        }
      },
      trans.__('Retry')
    )
  );
}

export function actionButton(
  action: string,
  label: string,
  testid: string,
  options: { title?: string; primary?: boolean } = {}
): HTMLButtonElement {
  return h(
    'button',
    {
      className: `jp-MLPlatCatalog-button${options.primary ? ' jp-mod-accept' : ''}`,
      testid,
      title: options.title,
      attrs: { type: 'button', 'data-action': action, 'data-focuskey': testid }
    },
    label
  );
}

export function typeBadge(trans: TranslationBundle, type: string): HTMLElement {
  return h(
    'span',
    {
      className: 'jp-MLPlatCatalog-badge jp-MLPlatCatalog-type',
      title: trans.__('Table type: %1', type),
      attrs: { 'data-type': type.toLowerCase() }
    },
    type.toLowerCase()
  );
}

export function spinner(): HTMLElement {
  return h('span', {
    className: 'jp-MLPlatCatalog-spinner',
    attrs: { 'aria-hidden': 'true' }
  });
}

export function icon(labIcon: LabIcon): HTMLElement {
  return labIcon.element({
    tag: 'span',
    className: 'jp-MLPlatCatalog-icon'
  });
}

export function text(value: string | null | undefined): Child {
  return value ? value : muted('—');
}

export function muted(value: string): HTMLElement {
  return h('span', { className: 'jp-MLPlatCatalog-muted' }, value);
}

/**
 * `text` with the first case-insensitive occurrence of `needle` in `<mark>`.
 */
export function highlight(value: string, needle: string): Node {
  const at = needle ? value.toLowerCase().indexOf(needle) : -1;
  if (at < 0) {
    return document.createTextNode(value);
  }
  const fragment = document.createDocumentFragment();
  fragment.append(
    value.slice(0, at),
    h('mark', {}, value.slice(at, at + needle.length)),
    value.slice(at + needle.length)
  );
  return fragment;
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(1)} ms`;
}

export function rowKey(kind: string, ...names: string[]): string {
  return JSON.stringify([kind, ...names]);
}

export function closestIn<T extends Element = Element>(
  target: EventTarget | null,
  selector: string
): T | null {
  const element =
    target instanceof Element
      ? target
      : target instanceof Node
        ? target.parentElement
        : null;
  return element?.closest<T>(selector) as T | null;
}

/**
 * Start an HTML5 drag of a table: `text/plain` is the `spark.table` snippet,
 * so dropping onto any text editor (CodeMirror cell editors included)
 * inserts the code.
 */
export function onDragStart(event: DragEvent): void {
  const ref = tableRefOf(closestIn(event.target, `.${TABLE_ITEM_CLASS}`));
  if (!ref || !event.dataTransfer) {
    return;
  }
  event.dataTransfer.setData('text/plain', tableSnippet(ref));
  event.dataTransfer.setData(CATALOG_TABLE_MIME, JSON.stringify(ref));
  event.dataTransfer.effectAllowed = 'copy';
}

/**
 * Run `render`, then give the focus back to the element with the same
 * `data-focuskey` if the focus was inside `container`.
 */
export function preservingFocus(
  container: HTMLElement,
  render: () => void
): void {
  const active = document.activeElement;
  const key =
    active instanceof HTMLElement && container.contains(active)
      ? active.dataset.focuskey
      : undefined;
  render();
  if (key && document.activeElement !== active) {
    container
      .querySelector<HTMLElement>(`[data-focuskey="${CSS.escape(key)}"]`)
      ?.focus({ preventScroll: true });
  }
}
