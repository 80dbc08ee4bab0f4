import {
  caretDownIcon,
  caretRightIcon,
  type LabIcon,
  refreshIcon,
  searchIcon,
  SidePanel,
  ToolbarButton
} from '@jupyterlab/ui-components';
import { type Message } from '@lumino/messaging';
import { type AccordionPanel, Widget } from '@lumino/widgets';

import { type Child, h } from '../dom';
import { ModelView } from '../modelview';
import { catalogColumnIcon, catalogIcon, catalogTableIcon } from '../icons';
import {
  CATALOG_PANEL_ID,
  type ICatalogColumn,
  type ICatalogDatabase,
  type ICatalogPreview,
  type ICatalogSearchResult,
  type ICatalogTable,
  type ICatalogTableDetails
} from '../tokens';
import {
  CATALOG_TABLE_MIME,
  type CatalogModel,
  type ILoadable,
  type ITableRef,
  LARGE_PREVIEW_LIMIT,
  qualifiedName,
  tableKey,
  tableSnippet
} from './model';

/**
 * What the catalog panel can do with a table (implemented by the plugin).
 */
export interface ICatalogActions {
  /** Insert a `spark.table(...)` cell into the current notebook. */
  insertSnippet(ref: ITableRef): void;
  /** Insert a `spark.sql("SELECT ...")` cell into the current notebook. */
  insertSQL(ref: ITableRef): void;
  /** Copy the qualified name of the table to the clipboard. */
  copyName(ref: ITableRef): void;
  /** Refresh the catalog (server side), then reload the panel. */
  refresh(): void;
}

/**
 * Class of tree items and search results that stand for a table (they carry
 * `data-database` and `data-table`); used as context-menu selector.
 */
export const TABLE_ITEM_CLASS = 'jp-MLPlatCatalog-tableItem';

/**
 * The table a catalog DOM node (or one of its ancestors) stands for.
 */
export function tableRefOf(node: Element | null): ITableRef | null {
  const item = node?.closest<HTMLElement>(`.${TABLE_ITEM_CLASS}`);
  const database = item?.dataset.database;
  const name = item?.dataset.table;
  return database !== undefined && name !== undefined
    ? { database, name }
    : null;
}

/**
 * Left side panel "Data Catalog": search box, lazily expanded database tree,
 * table details with a data preview.
 */
export class CatalogPanel extends SidePanel {
  constructor(options: CatalogPanel.IOptions) {
    super();
    const { model, actions } = options;
    this._model = model;
    this.id = CATALOG_PANEL_ID;
    this.addClass('jp-MLPlatCatalogPanel');
    this.node.dataset.testid = 'mlplat-catalog';
    this.node.setAttribute('aria-label', 'Data Catalog');
    this.title.icon = catalogIcon;
    this.title.caption = 'Data Catalog';

    this.header.addWidget(new Widget({ node: h('h2', {}, 'Data Catalog') }));

    this._browser = new CatalogBrowser({ model, actions });
    this._search = new CatalogSearchBox({ model, browser: this._browser });
    this._browser.searchBox = this._search;
    this.toolbar.addItem('search', this._search);

    this._refreshButton = new ToolbarButton({
      icon: refreshIcon,
      tooltip: 'Refresh the catalog (re-read databases and tables)',
      onClick: () => actions.refresh()
    });
    this._refreshButton.node.dataset.testid = 'mlplat-catalog-refresh';
    this._refreshButton.addClass('jp-MLPlatCatalog-refreshButton');
    this.toolbar.addItem('refresh', this._refreshButton);

    this._details = new CatalogDetails({ model, actions });
    this.addWidget(this._browser);
    this.addWidget(this._details);
    this._accordion.setRelativeSizes([0.5, 0.5]);

    model.changed.connect(this._onModelChanged, this);
    this._onModelChanged();
  }

  /**
   * The search box widget.
   */
  get searchBox(): CatalogSearchBox {
    return this._search;
  }

  /**
   * Reveal a table: expand its database, select it, scroll it into view.
   */
  reveal(ref: ITableRef): void {
    this._model.reveal(ref);
    this._browser.scrollToTable(ref);
  }

  override dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._model.changed.disconnect(this._onModelChanged, this);
    super.dispose();
  }

  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    // Lazy: nothing is fetched until the panel is first shown.
    void this._model.loadDatabases();
  }

  protected override onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    if (this.isAttached && !this.node.contains(document.activeElement)) {
      this._search.focus();
    }
  }

  private get _accordion(): AccordionPanel {
    return this.content as AccordionPanel;
  }

  private _onModelChanged(): void {
    const refreshing = this._model.refreshing;
    this._refreshButton.toggleClass('jp-mod-refreshing', refreshing);
    this._refreshButton.enabled = !refreshing;

    // Open the details section when a table gets selected.
    const selected = this._model.selected;
    const key = selected ? tableKey(selected) : null;
    if (key !== this._lastSelected) {
      this._lastSelected = key;
      const index = this._accordion.widgets.indexOf(this._details);
      if (key !== null && index >= 0) {
        this._accordion.expand(index);
      }
    }
  }

  private _model: CatalogModel;
  private _search: CatalogSearchBox;
  private _browser: CatalogBrowser;
  private _details: CatalogDetails;
  private _refreshButton: ToolbarButton;
  private _lastSelected: string | null = null;
}

/**
 * A namespace for `CatalogPanel` statics.
 */
export namespace CatalogPanel {
  /**
   * Constructor options.
   */
  export interface IOptions {
    /** The catalog model (shared with the commands). */
    model: CatalogModel;
    /** Table actions (notebook insertion, clipboard, refresh). */
    actions: ICatalogActions;
  }
}

/**
 * Search input; arrow keys and Enter drive the result list (or the tree).
 */
export class CatalogSearchBox extends Widget {
  constructor(options: { model: CatalogModel; browser: CatalogBrowser }) {
    super();
    this._model = options.model;
    this._browser = options.browser;
    this.addClass('jp-MLPlatCatalog-search');
    this._input = h('input', {
      className: 'jp-MLPlatCatalog-searchInput',
      testid: 'mlplat-catalog-search',
      attrs: {
        type: 'search',
        placeholder: 'Search tables, columns, comments',
        'aria-label': 'Search the data catalog',
        role: 'combobox',
        'aria-autocomplete': 'list',
        'aria-expanded': 'false',
        'aria-controls': this._browser.resultsId,
        autocomplete: 'off',
        spellcheck: 'false',
        // The server rejects longer queries (400).
        maxlength: '200'
      }
    });
    const icon = searchIcon.element({
      tag: 'span',
      className: 'jp-MLPlatCatalog-searchIcon'
    });
    this.node.append(icon, this._input);
    this._input.addEventListener('input', () => {
      this._model.setQuery(this._input.value);
    });
    this._input.addEventListener('keydown', this._onKeyDown);
  }

  /**
   * The input element.
   */
  get input(): HTMLInputElement {
    return this._input;
  }

  /**
   * Focus the input (and select its text).
   */
  focus(): void {
    this._input.focus();
    this._input.select();
  }

  /**
   * Set the query as if typed.
   */
  setQuery(query: string): void {
    this._input.value = query;
    this._model.setQuery(query);
  }

  /**
   * Sync ARIA state with the result list.
   */
  setActiveDescendant(id: string | null, expanded: boolean): void {
    this._input.setAttribute('aria-expanded', String(expanded));
    if (id) {
      this._input.setAttribute('aria-activedescendant', id);
    } else {
      this._input.removeAttribute('aria-activedescendant');
    }
  }

  private _onKeyDown = (event: KeyboardEvent): void => {
    const searching = this._model.search.query.trim() !== '';
    switch (event.key) {
      case 'ArrowDown':
      case 'ArrowUp':
        event.preventDefault();
        if (searching) {
          this._browser.moveActiveResult(event.key === 'ArrowDown' ? 1 : -1);
        } else if (event.key === 'ArrowDown') {
          this._browser.focusTree();
        }
        break;
      case 'Enter':
        if (searching) {
          event.preventDefault();
          this._browser.openActiveResult();
        }
        break;
      case 'Escape':
        if (this._input.value) {
          event.preventDefault();
          event.stopPropagation();
          this.setQuery('');
        }
        break;
      default:
        break;
    }
  };

  private _model: CatalogModel;
  private _browser: CatalogBrowser;
  private _input: HTMLInputElement;
}

let idCounter = 0;

/**
 * The upper section: state messages plus either the search results or the
 * database → table → column tree.
 */
export class CatalogBrowser extends ModelView {
  constructor(options: CatalogPanel.IOptions) {
    super(options.model.changed);
    this._model = options.model;
    this._actions = options.actions;
    this.addClass('jp-MLPlatCatalog-browser');
    this.title.label = 'Databases';
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
        'aria-label': 'Search results'
      }
    });
    this._tree = h('ul', {
      className: 'jp-MLPlatCatalog-tree',
      testid: 'mlplat-catalog-tree',
      attrs: { role: 'tree', 'aria-label': 'Databases' }
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
    this.title.label = searching ? 'Search results' : 'Databases';
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
          'mlplat-catalog-error',
          'Search failed',
          search.error,
          'retry-search'
        )
      );
    } else if (loading && (stale || count === 0)) {
      this._setStatus(loadingBox('mlplat-catalog-loading', 'Searching…'));
    } else if (search.status === 'ready' && count === 0) {
      this._setStatus(
        h(
          'div',
          {
            className: 'jp-MLPlatCatalog-empty',
            testid: 'mlplat-catalog-empty'
          },
          `No tables match '${search.resultsQuery}'`
        )
      );
    } else if (count > 0) {
      const took =
        search.tookMs !== null ? ` · ${formatMs(search.tookMs)}` : '';
      this._setStatus(
        h(
          'div',
          { className: 'jp-MLPlatCatalog-summary' },
          `${count} ${count === 1 ? 'match' : 'matches'}${took}`
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
    const matchLabel =
      match === 'column' && result.column ? `column ${result.column}` : match;
    const selected = this._model.isSelected(ref);
    return h(
      'li',
      {
        className: `jp-MLPlatCatalog-result ${TABLE_ITEM_CLASS}`,
        testid: `mlplat-catalog-result-${tableKey(ref)}`,
        title: `${qualifiedName(ref)}${result.comment ? `\n${result.comment}` : ''}\nDrag into a notebook cell to insert code.`,
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
    const list = databases.value;
    if (databases.status === 'error') {
      this._setStatus(
        errorBox(
          'mlplat-catalog-error',
          'Could not load the catalog',
          databases.error,
          'retry-databases'
        )
      );
    } else if (list === null) {
      this._setStatus(
        loadingBox('mlplat-catalog-loading', 'Loading databases…')
      );
    } else if (list.length === 0) {
      this._setStatus(
        h(
          'div',
          {
            className: 'jp-MLPlatCatalog-empty',
            testid: 'mlplat-catalog-empty'
          },
          'No databases in the catalog'
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
              title: `${count} ${count === 1 ? 'table' : 'tables'}`
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
    const placeholder = childState(tables, {
      level: 2,
      what: 'tables',
      empty: 'No tables',
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
          title: `${qualifiedName(ref)}${comment ? `\n${comment}` : ''}\nDrag into a notebook cell to insert code.`,
          className: TABLE_ITEM_CLASS,
          attrs: {
            draggable: 'true',
            'data-database': database,
            'data-table': table.name
          }
        },
        icon(catalogTableIcon),
        h('span', { className: 'jp-MLPlatCatalog-name' }, table.name),
        type && typeBadge(type),
        comment && h('span', { className: 'jp-MLPlatCatalog-comment' }, comment)
      )
    );
    if (!expanded) {
      return;
    }
    const details = this._model.details(ref);
    const placeholder = childState(details, {
      level: 3,
      what: 'columns',
      empty: details.value?.columns.length === 0 ? 'No columns' : null,
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
    const tooltip = [
      `${column.name}: ${column.type}`,
      column.nullable === false ? 'NOT NULL' : 'nullable',
      column.partition ? 'partition column' : '',
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
            title: 'Partition column'
          },
          'partition'
        ),
      column.nullable === false &&
        h(
          'span',
          {
            className: 'jp-MLPlatCatalog-badge jp-MLPlatCatalog-notNull',
            title: 'Not nullable'
          },
          'not null'
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
  private _status: HTMLElement;
  private _results: HTMLUListElement;
  private _tree: HTMLUListElement;
  private _activeResult = 0;
  private _renderedQuery = '';
  private _focusKey: string | null = null;
  private _revealKey: string | null = null;
}

/**
 * The lower section: details, actions and data preview of the selected table.
 */
export class CatalogDetails extends ModelView {
  constructor(options: CatalogPanel.IOptions) {
    super(options.model.changed);
    this._model = options.model;
    this._actions = options.actions;
    this.addClass('jp-MLPlatCatalog-detailsSection');
    this.title.label = 'Details';
    this.node.addEventListener('click', this._onClick);
    this.render();
  }

  render(): void {
    const ref = this._model.selected;
    // Each table gets a fresh scroll position; re-renders of one keep theirs.
    const key = ref ? tableKey(ref) : null;
    const scrollTop = key === this._renderedKey ? this.node.scrollTop : 0;
    const gridScroll = this.node.querySelector('.jp-MLPlatCatalog-gridWrap');
    const gridLeft =
      key === this._renderedKey ? (gridScroll?.scrollLeft ?? 0) : 0;
    const gridTop =
      key === this._renderedKey ? (gridScroll?.scrollTop ?? 0) : 0;
    this._renderedKey = key;
    preservingFocus(this.node, () => {
      this.node.replaceChildren(
        ref
          ? this._renderTable(ref)
          : h(
              'div',
              {
                className: 'jp-MLPlatCatalog-placeholder',
                testid: 'mlplat-catalog-details-placeholder'
              },
              'Select a table to see its details and a preview of its data.'
            )
      );
    });
    this.node.scrollTop = scrollTop;
    const grid = this.node.querySelector('.jp-MLPlatCatalog-gridWrap');
    if (grid) {
      grid.scrollLeft = gridLeft;
      grid.scrollTop = gridTop;
    }
  }

  private _renderTable(ref: ITableRef): HTMLElement {
    const details = this._model.details(ref);
    const info = details.value;
    const name = info?.qualified_name || qualifiedName(ref);
    const type = info?.type ?? '';

    const header = h(
      'div',
      { className: 'jp-MLPlatCatalog-detailsHeader' },
      h(
        'h3',
        {
          className: 'jp-MLPlatCatalog-qualifiedName',
          testid: 'mlplat-catalog-details-name'
        },
        name
      ),
      type && typeBadge(type)
    );

    const actions = h(
      'div',
      { className: 'jp-MLPlatCatalog-actions' },
      actionButton('insert', 'Insert snippet', 'mlplat-catalog-insert', {
        title: `Insert a cell loading ${name} into a DataFrame below the active notebook cell`,
        primary: true
      }),
      actionButton('insert-sql', 'Insert SQL', 'mlplat-catalog-insert-sql', {
        title: `Insert a spark.sql SELECT on ${name} below the active notebook cell`
      }),
      actionButton('copy', 'Copy name', 'mlplat-catalog-copy', {
        title: `Copy "${name}" to the clipboard`
      })
    );

    const body: Child[] = [];
    if (details.status === 'error') {
      body.push(
        errorBox(
          'mlplat-catalog-details-error',
          'Could not describe the table',
          details.error,
          'retry-details'
        )
      );
    } else if (!info) {
      body.push(
        loadingBox('mlplat-catalog-details-loading', 'Loading table details…')
      );
    }
    if (info) {
      body.push(this._renderInfo(info));
    }

    return h(
      'div',
      {
        className: 'jp-MLPlatCatalog-details',
        testid: 'mlplat-catalog-details',
        attrs: {
          'data-database': ref.database,
          'data-table': ref.name,
          'aria-busy': String(details.status === 'loading')
        }
      },
      header,
      actions,
      ...body,
      this._renderPreview(ref)
    );
  }

  private _renderInfo(info: ICatalogTableDetails): HTMLElement {
    const partitions = info.partition_columns ?? [];
    const rowCount = info.row_count;
    const fields: [string, Child, string?][] = [
      ['Type', text(info.type)],
      ['Format', text(info.format)],
      [
        'Location',
        info.location
          ? h(
              'span',
              {
                className: 'jp-MLPlatCatalog-code',
                title: info.location
              },
              info.location
            )
          : muted('—')
      ],
      [
        'Rows',
        typeof rowCount === 'number'
          ? rowCount.toLocaleString()
          : muted('unknown'),
        'mlplat-catalog-details-rows'
      ],
      [
        'Partitioned by',
        partitions.length > 0
          ? h(
              'span',
              { className: 'jp-MLPlatCatalog-code' },
              partitions.join(', ')
            )
          : muted('—')
      ],
      ['Columns', String(info.columns.length)]
    ];
    const list = h('dl', { className: 'jp-MLPlatCatalog-fields' });
    for (const [label, value, testid] of fields) {
      list.append(h('dt', {}, label), h('dd', { testid }, value));
    }
    return h(
      'div',
      { className: 'jp-MLPlatCatalog-info' },
      info.comment &&
        h(
          'p',
          {
            className: 'jp-MLPlatCatalog-tableComment',
            testid: 'mlplat-catalog-details-comment'
          },
          info.comment
        ),
      list
    );
  }

  private _renderPreview(ref: ITableRef): HTMLElement {
    const preview = this._model.preview(ref);
    const limit = this._model.previewLimit(ref);
    const data = preview.value;
    const status: Child[] = [];
    if (preview.status === 'error') {
      status.push(
        errorBox(
          'mlplat-catalog-preview-error',
          'Could not load a preview',
          preview.error,
          'retry-preview'
        )
      );
    } else if (preview.status === 'loading' || preview.status === 'idle') {
      status.push(
        loadingBox(
          'mlplat-catalog-preview-loading',
          `Loading the first ${limit} rows…`
        )
      );
    }
    const canLoadMore =
      data !== null &&
      limit < LARGE_PREVIEW_LIMIT &&
      data.truncated !== false &&
      data.rows.length >= limit;
    const summary =
      data !== null
        ? `${data.rows.length} ${data.rows.length === 1 ? 'row' : 'rows'}${data.truncated ? ' (more available)' : ''}`
        : '';
    return h(
      'section',
      { className: 'jp-MLPlatCatalog-previewSection' },
      h(
        'div',
        { className: 'jp-MLPlatCatalog-previewHeader' },
        h('h4', {}, 'Preview'),
        h(
          'span',
          {
            className: 'jp-MLPlatCatalog-summary',
            testid: 'mlplat-catalog-preview-summary'
          },
          summary
        ),
        canLoadMore &&
          actionButton(
            'load-more',
            `Load ${LARGE_PREVIEW_LIMIT} rows`,
            'mlplat-catalog-preview-more',
            { title: `Load the first ${LARGE_PREVIEW_LIMIT} rows` }
          )
      ),
      ...status,
      data && previewGrid(data)
    );
  }

  private _onClick = (event: MouseEvent): void => {
    const button = closestIn<HTMLElement>(event.target, '[data-action]');
    const ref = this._model.selected;
    if (!button || !ref) {
      return;
    }
    switch (button.dataset.action) {
      case 'insert':
        this._actions.insertSnippet(ref);
        break;
      case 'insert-sql':
        this._actions.insertSQL(ref);
        break;
      case 'copy':
        this._actions.copyName(ref);
        break;
      case 'load-more':
        void this._model.loadPreview(ref, LARGE_PREVIEW_LIMIT);
        break;
      case 'retry-details':
        void this._model.loadDetails(ref, true);
        break;
      case 'retry-preview':
        void this._model.loadPreview(ref, this._model.previewLimit(ref), true);
        break;
      default:
        break;
    }
  };

  private _model: CatalogModel;
  private _actions: ICatalogActions;
  private _renderedKey: string | null = null;
}

// ---- Rendering helpers -------------------------------------------------------

const NUMERIC_TYPE =
  /^(tinyint|smallint|int|integer|bigint|long|short|byte|float|double|real|decimal)/i;

const FLOAT_TYPE = /^(float|double|real)/i;

/**
 * The data preview grid: an HTML table with a sticky header.
 */
function previewGrid(data: ICatalogPreview): HTMLElement {
  const numeric = data.columns.map(c => NUMERIC_TYPE.test(c.type ?? ''));
  const float = data.columns.map(c => FLOAT_TYPE.test(c.type ?? ''));
  const head = h(
    'tr',
    {},
    h('th', { className: 'jp-MLPlatCatalog-rowNumber', title: 'Row' }, '#'),
    ...data.columns.map(column =>
      h(
        'th',
        { title: `${column.name}: ${column.type ?? 'unknown type'}` },
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
          'The table is empty.'
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

function gridCell(
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

interface ITreeItemOptions {
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

function treeItem(
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
function childState<T>(
  state: ILoadable<T>,
  options: {
    level: number;
    what: string;
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
        `Could not load ${options.what}: ${state.error ?? 'unknown error'}`
      ),
      h(
        'button',
        { className: 'jp-MLPlatCatalog-linkButton', attrs: retryAttrs },
        'Retry'
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
      h(
        'span',
        { className: 'jp-MLPlatCatalog-childMessage' },
        `Loading ${options.what}…`
      )
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

function loadingBox(testid: string, message: string): HTMLElement {
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

function errorBox(
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
        message ?? 'unknown error'
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
      'Retry'
    )
  );
}

function actionButton(
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

function typeBadge(type: string): HTMLElement {
  return h(
    'span',
    {
      className: 'jp-MLPlatCatalog-badge jp-MLPlatCatalog-type',
      title: `Table type: ${type}`,
      attrs: { 'data-type': type.toLowerCase() }
    },
    type.toLowerCase()
  );
}

function spinner(): HTMLElement {
  return h('span', {
    className: 'jp-MLPlatCatalog-spinner',
    attrs: { 'aria-hidden': 'true' }
  });
}

function icon(labIcon: LabIcon): HTMLElement {
  return labIcon.element({
    tag: 'span',
    className: 'jp-MLPlatCatalog-icon'
  });
}

function text(value: string | null | undefined): Child {
  return value ? value : muted('—');
}

function muted(value: string): HTMLElement {
  return h('span', { className: 'jp-MLPlatCatalog-muted' }, value);
}

/**
 * `text` with the first case-insensitive occurrence of `needle` in `<mark>`.
 */
function highlight(value: string, needle: string): Node {
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

function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(1)} ms`;
}

function rowKey(kind: string, ...names: string[]): string {
  return JSON.stringify([kind, ...names]);
}

function closestIn<T extends Element = Element>(
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
function onDragStart(event: DragEvent): void {
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
function preservingFocus(container: HTMLElement, render: () => void): void {
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
