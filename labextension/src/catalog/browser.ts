import { type TranslationBundle } from '@jupyterlab/translation';
import { type Message } from '@lumino/messaging';

import { h } from '../common/dom';
import { ModelView } from '../common/modelview';
import {
  type ICatalogColumn,
  type ICatalogDatabase,
  type ICatalogSearchResult,
  type ICatalogTable
} from '../tokens';
import {
  type ICatalogActions,
  type ICatalogWidgetOptions,
  TABLE_ITEM_CLASS,
  tableRefOf
} from './actions';
import { catalogColumnIcon, catalogIcon, catalogTableIcon } from './icons';
import {
  type CatalogModel,
  type ITableRef,
  qualifiedName,
  tableKey
} from './model';
import {
  childState,
  closestIn,
  errorBox,
  formatMs,
  highlight,
  icon,
  loadingBox,
  onDragStart,
  preservingFocus,
  rowKey,
  treeItem,
  typeBadge
} from './render';
import { type CatalogSearchBox } from './searchbox';

let idCounter = 0;

/**
 * The upper section: state messages plus either the search results or the
 * database → table → column tree.
 */
export class CatalogBrowser extends ModelView {
  constructor(options: ICatalogWidgetOptions) {
    super(options.model.changed);
    this._model = options.model;
    this._actions = options.actions;
    this._trans = options.trans;
    const trans = this._trans;
    this.addClass('jp-MLPlatCatalog-browser');
    this.title.label = trans.__('Databases');
    this.resultsId = `mlplat-catalog-results-${++idCounter}`;

    this._status = h('div', {
      className: 'jp-MLPlatCatalog-status',
      attrs: { 'aria-live': 'polite' }
    });
    this._results = h('ul', {
      className: 'jp-MLPlatCatalog-results',
      testid: 'mlplat-catalog-results',
      attrs: {
        id: this.resultsId,
        role: 'listbox',
        'aria-label': trans.__('Search results')
      }
    });
    this._tree = h('ul', {
      className: 'jp-MLPlatCatalog-tree',
      testid: 'mlplat-catalog-tree',
      attrs: { role: 'tree', 'aria-label': trans.__('Databases') }
    });
    this.node.append(this._status, this._results, this._tree);

    this._tree.addEventListener('click', this._onTreeClick);
    this._tree.addEventListener('dblclick', this._onTreeDblClick);
    this._tree.addEventListener('keydown', this._onTreeKeyDown);
    this._tree.addEventListener('focusin', this._onTreeFocusIn);
    this._results.addEventListener('click', this._onResultClick);
    this._results.addEventListener('dblclick', this._onResultDblClick);
    for (const list of [this._tree, this._results]) {
      list.addEventListener('dragstart', onDragStart);
    }
    this._status.addEventListener('click', this._onStatusClick);

    this.render();
  }

  /**
   * DOM id of the result list (for `aria-controls`).
   */
  readonly resultsId: string;

  /**
   * The search box driving the result list (set by the panel).
   */
  searchBox: CatalogSearchBox | null = null;

  /**
   * Move the highlighted search result by `delta` (wrapping).
   */
  moveActiveResult(delta: number): void {
    const count = this._model.search.results.length;
    if (count === 0) {
      return;
    }
    this._activeResult = (this._activeResult + delta + count) % count;
    this._syncActiveResult(true);
  }

  /**
   * Open the highlighted search result (select + reveal the table).
   */
  openActiveResult(): void {
    const result = this._model.search.results[this._activeResult];
    if (result) {
      this._openResult(result);
    }
  }

  /**
   * Move the keyboard focus to the tree.
   */
  focusTree(): void {
    const row =
      this._rowByKey(this._focusKey) ??
      this._tree.querySelector<HTMLElement>('[role="treeitem"]');
    row?.focus();
  }

  /**
   * Scroll a table row into view once it is rendered.
   */
  scrollToTable(ref: ITableRef): void {
    this._revealKey = rowKey('table', ref.database, ref.name);
    this._focusKey = this._revealKey;
    this.update();
  }

  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.render();
  }

  render(): void {
    const search = this._model.search;
    const searching = search.query.trim() !== '';
    this.node.dataset.mode = searching ? 'search' : 'tree';
    this.title.label = searching
      ? this._trans.__('Search results')
      : this._trans.__('Databases');
    this._results.hidden = !searching;
    this._tree.hidden = searching;
    preservingFocus(this.node, () => {
      if (searching) {
        this._renderResults();
      } else {
        this._renderTree();
      }
    });
    if (this._revealKey && !searching) {
      const row = this._rowByKey(this._revealKey);
      if (row) {
        row.scrollIntoView({ block: 'nearest' });
        this._revealKey = null;
      }
    }
  }

  // ---- Search results ------------------------------------------------------

  private _renderResults(): void {
    const search = this._model.search;
    const trans = this._trans;
    if (search.resultsQuery !== this._renderedQuery) {
      this._renderedQuery = search.resultsQuery;
      this._activeResult = 0;
    }
    const loading = search.status === 'loading';
    const stale = search.resultsQuery !== search.query.trim();
    const count = search.results.length;

    if (search.status === 'error') {
      this._setStatus(
        errorBox(
          trans,
          'mlplat-catalog-error',
          trans.__('Search failed'),
          search.error,
          'retry-search'
        )
      );
    } else if (loading && (stale || count === 0)) {
      this._setStatus(
        loadingBox('mlplat-catalog-loading', trans.__('Searching…'))
      );
    } else if (search.status === 'ready' && count === 0) {
      this._setStatus(
        h(
          'div',
          {
            className: 'jp-MLPlatCatalog-empty',
            testid: 'mlplat-catalog-empty'
          },
          trans.__("No tables match '%1'", search.resultsQuery)
        )
      );
    } else if (count > 0) {
      const took =
        search.tookMs !== null ? ` · ${formatMs(search.tookMs)}` : '';
      this._setStatus(
        h(
          'div',
          { className: 'jp-MLPlatCatalog-summary' },
          `${trans._n('%1 match', '%1 matches', count)}${took}`
        )
      );
    } else {
      this._setStatus(null);
    }

    const needle = search.resultsQuery.toLowerCase();
    this._results.replaceChildren(
      ...search.results.map((result, index) =>
        this._renderResult(result, index, needle)
      )
    );
    this._results.setAttribute('aria-busy', String(loading));
    this._syncActiveResult(false);
  }

  private _renderResult(
    result: ICatalogSearchResult,
    index: number,
    needle: string
  ): HTMLElement {
    const ref = { database: result.database, name: result.name };
    const match = String(result.match ?? '');
    const trans = this._trans;
    const matchLabel =
      match === 'column' && result.column
        ? trans.__('column %1', result.column)
        : match;
    const selected = this._model.isSelected(ref);
    return h(
      'li',
      {
        className: `jp-MLPlatCatalog-result ${TABLE_ITEM_CLASS}`,
        testid: `mlplat-catalog-result-${tableKey(ref)}`,
        title: `${qualifiedName(ref)}${result.comment ? `\n${result.comment}` : ''}\n${this._trans.__('Drag into a notebook cell to insert code.')}`,
        attrs: {
          id: `${this.resultsId}-${index}`,
          role: 'option',
          draggable: 'true',
          'aria-selected': 'false',
          'data-index': String(index),
          'data-database': ref.database,
          'data-table': ref.name,
          ...(selected ? { 'data-selected': 'true' } : {})
        }
      },
      icon(catalogTableIcon),
      h(
        'span',
        { className: 'jp-MLPlatCatalog-resultMain' },
        h(
          'span',
          { className: 'jp-MLPlatCatalog-resultName' },
          h(
            'span',
            { className: 'jp-MLPlatCatalog-dbPrefix' },
            `${ref.database}.`
          ),
          highlight(ref.name, needle)
        ),
        matchLabel &&
          h(
            'span',
            {
              className: 'jp-MLPlatCatalog-badge jp-MLPlatCatalog-match',
              attrs: { 'data-match': match }
            },
            matchLabel
          ),
        result.comment &&
          h(
            'span',
            { className: 'jp-MLPlatCatalog-comment' },
            highlight(result.comment, needle)
          )
      )
    );
  }

  private _syncActiveResult(scroll: boolean): void {
    const items = this._results.children;
    let activeId: string | null = null;
    for (let i = 0; i < items.length; i++) {
      const active = i === this._activeResult;
      items[i].setAttribute('aria-selected', String(active));
      if (active) {
        activeId = items[i].id;
        if (scroll) {
          items[i].scrollIntoView({ block: 'nearest' });
        }
      }
    }
    this.searchBox?.setActiveDescendant(activeId, items.length > 0);
  }

  private _openResult(result: ICatalogSearchResult): void {
    const ref = { database: result.database, name: result.name };
    this._model.reveal(ref);
    this._revealKey = rowKey('table', ref.database, ref.name);
    this._focusKey = this._revealKey;
  }

  private _onResultClick = (event: MouseEvent): void => {
    const item = closestIn<HTMLElement>(event.target, '[role="option"]');
    if (!item) {
      return;
    }
    this._activeResult = Number(item.dataset.index ?? 0);
    this._syncActiveResult(false);
    this.openActiveResult();
  };

  private _onResultDblClick = (event: MouseEvent): void => {
    const ref = tableRefOf(closestIn(event.target, '[role="option"]'));
    if (ref) {
      this._actions.insertSnippet(ref);
    }
  };

  // ---- Tree ----------------------------------------------------------------

  private _renderTree(): void {
    const databases = this._model.databases;
    const trans = this._trans;
    const list = databases.value;
    if (databases.status === 'error') {
      this._setStatus(
        errorBox(
          trans,
          'mlplat-catalog-error',
          trans.__('Could not load the catalog'),
          databases.error,
          'retry-databases'
        )
      );
    } else if (list === null) {
      this._setStatus(
        loadingBox('mlplat-catalog-loading', trans.__('Loading databases…'))
      );
    } else if (list.length === 0) {
      this._setStatus(
        h(
          'div',
          {
            className: 'jp-MLPlatCatalog-empty',
            testid: 'mlplat-catalog-empty'
          },
          trans.__('No databases in the catalog')
        )
      );
    } else {
      this._setStatus(null);
    }

    const rows: HTMLElement[] = [];
    for (const db of list ?? []) {
      this._renderDatabase(db, rows);
    }
    // Roving tabindex: exactly one focusable row.
    const focusable =
      rows.find(r => r.dataset.focuskey === this._focusKey) ??
      rows.find(r => r.getAttribute('role') === 'treeitem');
    focusable?.setAttribute('tabindex', '0');
    this._tree.replaceChildren(...rows);
    this._tree.setAttribute(
      'aria-busy',
      String(databases.status === 'loading')
    );
  }

  private _renderDatabase(db: ICatalogDatabase, rows: HTMLElement[]): void {
    const trans = this._trans;
    const expanded = this._model.isDatabaseExpanded(db.name);
    const count = db.table_count;
    const comment = db.comment ?? '';
    const key = rowKey('db', db.name);
    rows.push(
      treeItem(
        {
          key,
          level: 1,
          kind: 'db',
          expanded,
          testid: `mlplat-catalog-db-${db.name}`,
          title: comment ? `${db.name}\n${comment}` : db.name,
          attrs: { 'data-database': db.name }
        },
        icon(catalogIcon),
        h('span', { className: 'jp-MLPlatCatalog-name' }, db.name),
        typeof count === 'number' &&
          h(
            'span',
            {
              className: 'jp-MLPlatCatalog-count',
              title: trans._n('%1 table', '%1 tables', count)
            },
            count
          ),
        comment && h('span', { className: 'jp-MLPlatCatalog-comment' }, comment)
      )
    );
    if (!expanded) {
      return;
    }
    const tables = this._model.tables(db.name);
    const placeholder = childState(trans, tables, {
      level: 2,
      failed: trans.__('Could not load tables'),
      loading: trans.__('Loading tables…'),
      empty: trans.__('No tables'),
      retry: { action: 'retry-tables', database: db.name },
      testid: `db-${db.name}`
    });
    if (placeholder) {
      rows.push(placeholder);
    }
    for (const table of tables.value ?? []) {
      this._renderTable(db.name, table, rows);
    }
  }

  private _renderTable(
    database: string,
    table: ICatalogTable,
    rows: HTMLElement[]
  ): void {
    const trans = this._trans;
    const ref = { database, name: table.name };
    const expanded = this._model.isTableExpanded(ref);
    const type = table.type ?? '';
    const comment = table.comment ?? '';
    rows.push(
      treeItem(
        {
          key: rowKey('table', database, table.name),
          level: 2,
          kind: 'table',
          expanded,
          selected: this._model.isSelected(ref),
          testid: `mlplat-catalog-table-${tableKey(ref)}`,
          title: `${qualifiedName(ref)}${comment ? `\n${comment}` : ''}\n${this._trans.__('Drag into a notebook cell to insert code.')}`,
          className: TABLE_ITEM_CLASS,
          attrs: {
            draggable: 'true',
            'data-database': database,
            'data-table': table.name
          }
        },
        icon(catalogTableIcon),
        h('span', { className: 'jp-MLPlatCatalog-name' }, table.name),
        type && typeBadge(trans, type),
        comment && h('span', { className: 'jp-MLPlatCatalog-comment' }, comment)
      )
    );
    if (!expanded) {
      return;
    }
    const details = this._model.details(ref);
    const placeholder = childState(trans, details, {
      level: 3,
      failed: trans.__('Could not load columns'),
      loading: trans.__('Loading columns…'),
      empty:
        details.value?.columns.length === 0 ? trans.__('No columns') : null,
      retry: { action: 'retry-columns', database, table: table.name },
      testid: `table-${tableKey(ref)}`
    });
    if (placeholder) {
      rows.push(placeholder);
    }
    for (const column of details.value?.columns ?? []) {
      rows.push(this._renderColumn(ref, column));
    }
  }

  private _renderColumn(ref: ITableRef, column: ICatalogColumn): HTMLElement {
    const trans = this._trans;
    const tooltip = [
      `${column.name}: ${column.type}`,
      column.nullable === false ? trans.__('NOT NULL') : trans.__('nullable'),
      column.partition ? trans.__('partition column') : '',
      column.comment ?? ''
    ].filter(Boolean);
    return treeItem(
      {
        key: rowKey('column', ref.database, ref.name, column.name),
        level: 3,
        kind: 'column',
        testid: `mlplat-catalog-column-${tableKey(ref)}.${column.name}`,
        title: tooltip.join('\n'),
        attrs: {
          'data-database': ref.database,
          'data-table': ref.name,
          'data-column': column.name,
          'data-nullable': String(column.nullable !== false),
          'data-partition': String(Boolean(column.partition))
        }
      },
      icon(catalogColumnIcon),
      h('span', { className: 'jp-MLPlatCatalog-name' }, column.name),
      h('span', { className: 'jp-MLPlatCatalog-colType' }, column.type),
      column.partition &&
        h(
          'span',
          {
            className: 'jp-MLPlatCatalog-badge jp-MLPlatCatalog-partition',
            title: trans.__('Partition column')
          },
          trans.__('partition')
        ),
      column.nullable === false &&
        h(
          'span',
          {
            className: 'jp-MLPlatCatalog-badge jp-MLPlatCatalog-notNull',
            title: trans.__('Not nullable')
          },
          trans.__('not null')
        ),
      column.comment &&
        h('span', { className: 'jp-MLPlatCatalog-comment' }, column.comment)
    );
  }

  private _onTreeClick = (event: MouseEvent): void => {
    const row = closestIn<HTMLElement>(event.target, '[role="treeitem"]');
    if (!row || !this._tree.contains(row)) {
      return;
    }
    const action = closestIn<HTMLElement>(event.target, '[data-action]');
    if (action) {
      this._runAction(action);
      return;
    }
    this._setFocusRow(row, false);
    const onCaret = !!closestIn(event.target, '.jp-MLPlatCatalog-caret');
    switch (row.dataset.kind) {
      case 'db':
        this._toggle(row);
        break;
      case 'table':
        if (onCaret) {
          this._toggle(row);
        } else {
          this._select(row);
        }
        break;
      default:
        break;
    }
  };

  private _onTreeDblClick = (event: MouseEvent): void => {
    const row = closestIn<HTMLElement>(event.target, '[role="treeitem"]');
    if (
      row?.dataset.kind === 'table' &&
      !closestIn(event.target, '.jp-MLPlatCatalog-caret, [data-action]')
    ) {
      this._toggle(row);
    }
  };

  private _onTreeFocusIn = (event: FocusEvent): void => {
    const row = closestIn<HTMLElement>(event.target, '[role="treeitem"]');
    if (row && row.dataset.focuskey) {
      this._focusKey = row.dataset.focuskey;
    }
  };

  private _onTreeKeyDown = (event: KeyboardEvent): void => {
    const row = closestIn<HTMLElement>(event.target, '[role="treeitem"]');
    if (!row || event.target !== row) {
      return; // e.g. a retry button inside a row
    }
    const rows = Array.from(
      this._tree.querySelectorAll<HTMLElement>('[role="treeitem"]')
    );
    const index = rows.indexOf(row);
    const level = Number(row.getAttribute('aria-level'));
    const expanded = row.getAttribute('aria-expanded');
    let handled = true;
    switch (event.key) {
      case 'ArrowDown':
        if (index < rows.length - 1) {
          this._setFocusRow(rows[index + 1]);
        }
        break;
      case 'ArrowUp':
        if (index > 0) {
          this._setFocusRow(rows[index - 1]);
        } else {
          this.searchBox?.focus();
        }
        break;
      case 'Home':
        this._setFocusRow(rows[0]);
        break;
      case 'End':
        this._setFocusRow(rows[rows.length - 1]);
        break;
      case 'ArrowRight':
        if (expanded === 'false') {
          this._toggle(row);
        } else if (
          expanded === 'true' &&
          rows[index + 1] &&
          Number(rows[index + 1].getAttribute('aria-level')) > level
        ) {
          this._setFocusRow(rows[index + 1]);
        }
        break;
      case 'ArrowLeft':
        if (expanded === 'true') {
          this._toggle(row);
        } else {
          for (let i = index - 1; i >= 0; i--) {
            if (Number(rows[i].getAttribute('aria-level')) < level) {
              this._setFocusRow(rows[i]);
              break;
            }
          }
        }
        break;
      case 'Enter':
      case ' ':
        if (row.dataset.kind === 'table') {
          this._select(row);
        } else if (row.dataset.kind === 'db') {
          this._toggle(row);
        }
        break;
      default:
        handled = false;
        break;
    }
    if (handled) {
      event.preventDefault();
      event.stopPropagation();
    }
  };

  private _setFocusRow(row: HTMLElement, focus = true): void {
    for (const other of this._tree.querySelectorAll('[tabindex="0"]')) {
      other.setAttribute('tabindex', '-1');
    }
    row.setAttribute('tabindex', '0');
    this._focusKey = row.dataset.focuskey ?? null;
    if (focus) {
      row.focus();
      row.scrollIntoView({ block: 'nearest' });
    }
  }

  private _toggle(row: HTMLElement): void {
    const expand = row.getAttribute('aria-expanded') !== 'true';
    const database = row.dataset.database;
    if (database === undefined) {
      return;
    }
    if (row.dataset.kind === 'db') {
      this._model.setDatabaseExpanded(database, expand);
    } else {
      const ref = tableRefOf(row);
      if (ref) {
        this._model.setTableExpanded(ref, expand);
      }
    }
  }

  private _select(row: HTMLElement): void {
    const ref = tableRefOf(row);
    if (ref) {
      this._model.select(ref);
    }
  }

  private _runAction(node: HTMLElement): void {
    const { action, database, table } = node.dataset;
    switch (action) {
      case 'retry-databases':
        void this._model.reload();
        break;
      case 'retry-search':
        void this._model.searchNow();
        break;
      case 'retry-tables':
        if (database !== undefined) {
          void this._model.loadTables(database, true);
        }
        break;
      case 'retry-columns':
        if (database !== undefined && table !== undefined) {
          void this._model.loadDetails({ database, name: table }, true);
        }
        break;
      default:
        break;
    }
  }

  private _onStatusClick = (event: MouseEvent): void => {
    const action = closestIn<HTMLElement>(event.target, '[data-action]');
    if (action) {
      this._runAction(action);
    }
  };

  private _setStatus(node: HTMLElement | null): void {
    if (node) {
      this._status.replaceChildren(node);
    } else {
      this._status.replaceChildren();
    }
    this._status.hidden = node === null;
  }

  private _rowByKey(key: string | null): HTMLElement | null {
    if (!key) {
      return null;
    }
    return this._tree.querySelector<HTMLElement>(
      `[data-focuskey="${CSS.escape(key)}"]`
    );
  }

  private _model: CatalogModel;
  private _actions: ICatalogActions;
  private _trans: TranslationBundle;
  private _status: HTMLElement;
  private _results: HTMLUListElement;
  private _tree: HTMLUListElement;
  private _activeResult = 0;
  private _renderedQuery = '';
  private _focusKey: string | null = null;
  private _revealKey: string | null = null;
}
