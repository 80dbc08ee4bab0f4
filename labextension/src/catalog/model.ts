import { type IDisposable } from '@lumino/disposable';
import { type ISignal, Signal } from '@lumino/signaling';

import { errorMessage, requestAPI } from '../api';
import {
  type ICatalogDatabase,
  type ICatalogDatabasesResponse,
  type ICatalogPreview,
  type ICatalogRefreshResponse,
  type ICatalogSearchResponse,
  type ICatalogSearchResult,
  type ICatalogTable,
  type ICatalogTableDetails,
  type ICatalogTablesResponse
} from '../tokens';

/**
 * Lifecycle of a lazily loaded piece of the catalog.
 */
export type LoadStatus = 'idle' | 'loading' | 'ready' | 'error';

/**
 * A lazily loaded value. `value` keeps the last good value while reloading or
 * after a failed reload.
 */
export interface ILoadable<T> {
  readonly status: LoadStatus;
  readonly value: T | null;
  readonly error: string | null;
}

/**
 * Reference to a table of the catalog.
 */
export interface ITableRef {
  /** Database name. */
  readonly database: string;
  /** Table name (without the database). */
  readonly name: string;
}

/**
 * State of the catalog search.
 */
export interface ISearchState {
  /** Text typed by the user (may be ahead of `resultsQuery`). */
  readonly query: string;
  /** `loading` while a (debounced) search for `query` is pending. */
  readonly status: LoadStatus;
  /** Results for `resultsQuery` (kept while the next search runs). */
  readonly results: ReadonlyArray<ICatalogSearchResult>;
  /** The query `results` answer. */
  readonly resultsQuery: string;
  /** Error of the last search, or `null`. */
  readonly error: string | null;
  /** Server-side search time of `results`, in milliseconds. */
  readonly tookMs: number | null;
}

/**
 * Default number of preview rows.
 */
export const DEFAULT_PREVIEW_LIMIT = 20;

/**
 * Number of preview rows loaded by "Load more".
 */
export const LARGE_PREVIEW_LIMIT = 100;

/**
 * MIME type of a table dragged from the catalog (JSON `ITableRef`).
 */
export const CATALOG_TABLE_MIME = 'application/x-mlplat-catalog-table';

const IDLE: ILoadable<never> = Object.freeze({
  status: 'idle',
  value: null,
  error: null
});

const EMPTY_SEARCH: ISearchState = Object.freeze({
  query: '',
  status: 'idle',
  results: [],
  resultsQuery: '',
  error: null,
  tookMs: null
});

/**
 * Quote a Spark SQL identifier with backticks unless it is a plain one.
 */
export function quoteIdentifier(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)
    ? name
    : '`' + name.replace(/`/g, '``') + '`';
}

/**
 * Qualified name of a table as Spark SQL accepts it, e.g. `demo.iris`.
 */
export function qualifiedName(ref: ITableRef): string {
  return `${quoteIdentifier(ref.database)}.${quoteIdentifier(ref.name)}`;
}

/**
 * Key of a table for maps and `data-testid`s: `db.table` (unquoted).
 */
export function tableKey(ref: ITableRef): string {
  return `${ref.database}.${ref.name}`;
}

/**
 * Unambiguous internal key of a table (names may contain dots).
 */
function refKey(ref: ITableRef): string {
  return JSON.stringify([ref.database, ref.name]);
}

/**
 * Python snippet loading a table into a DataFrame:
 * `df = spark.table("db.table")` + `df.limit(10).toPandas()`.
 */
export function tableSnippet(ref: ITableRef): string {
  // JSON string literals are valid Python string literals.
  return `df = spark.table(${JSON.stringify(qualifiedName(ref))})\ndf.limit(10).toPandas()`;
}

/**
 * Python snippet running a SQL query on a table with `spark.sql`.
 */
export function sqlSnippet(ref: ITableRef): string {
  const name = qualifiedName(ref).replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  return `spark.sql("""\nSELECT *\nFROM ${name}\nLIMIT ${LARGE_PREVIEW_LIMIT}\n""").toPandas()`;
}

/**
 * Client of the `catalog/*` REST API: lazy loading with caching, tree
 * expansion/selection state and a debounced search.
 *
 * All loaders dedupe concurrent calls, never reject (failures end up in the
 * `error` of the corresponding `ILoadable`) and emit `changed`.
 */
export class CatalogModel implements IDisposable {
  constructor(options: CatalogModel.IOptions = {}) {
    this._request = options.request ?? requestAPI;
    this._searchDelay = options.searchDelay ?? 150;
    this._searchLimit = options.searchLimit ?? 50;
  }

  /**
   * Emitted whenever any state changes.
   */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * The databases of the catalog (`idle` until `loadDatabases()`).
   */
  get databases(): ILoadable<ICatalogDatabase[]> {
    return this._databases.state;
  }

  /**
   * The tables of a database (`idle` until loaded).
   */
  tables(database: string): ILoadable<ICatalogTable[]> {
    return this._tables.get(database)?.state ?? IDLE;
  }

  /**
   * The description (columns, format, ...) of a table (`idle` until loaded).
   */
  details(ref: ITableRef): ILoadable<ICatalogTableDetails> {
    return this._details.get(refKey(ref))?.state ?? IDLE;
  }

  /**
   * The current data preview of a table (`idle` until loaded).
   */
  preview(ref: ITableRef): ILoadable<ICatalogPreview> {
    const key = refKey(ref);
    const limit = this._previewLimits.get(key) ?? DEFAULT_PREVIEW_LIMIT;
    return this._previews.get(`${key}\n${limit}`)?.state ?? IDLE;
  }

  /**
   * Row limit of the current preview of a table.
   */
  previewLimit(ref: ITableRef): number {
    return this._previewLimits.get(refKey(ref)) ?? DEFAULT_PREVIEW_LIMIT;
  }

  /**
   * The selected table (shown in the details), or `null`.
   */
  get selected(): ITableRef | null {
    return this._selected;
  }

  /**
   * The search state.
   */
  get search(): ISearchState {
    return this._search;
  }

  /**
   * Whether a `refresh()` is running.
   */
  get refreshing(): boolean {
    return this._refreshing !== null;
  }

  /**
   * Whether a database is expanded in the tree.
   */
  isDatabaseExpanded(database: string): boolean {
    return this._expandedDatabases.has(database);
  }

  /**
   * Whether a table is expanded (columns shown) in the tree.
   */
  isTableExpanded(ref: ITableRef): boolean {
    return this._expandedTables.has(refKey(ref));
  }

  /**
   * Whether a table is the selected one.
   */
  isSelected(ref: ITableRef): boolean {
    return (
      this._selected !== null &&
      this._selected.database === ref.database &&
      this._selected.name === ref.name
    );
  }

  /**
   * Fetch the databases, unless already loaded (or `force`).
   */
  loadDatabases(force = false): Promise<void> {
    return this._load(this._databases, force, async () => {
      const reply =
        await this._request<ICatalogDatabasesResponse>('catalog/databases');
      return arrayField<ICatalogDatabase>(reply, 'databases');
    });
  }

  /**
   * Fetch the tables of a database, unless already loaded (or `force`).
   */
  loadTables(database: string, force = false): Promise<void> {
    return this._load(entry(this._tables, database), force, async () =>
      arrayField<ICatalogTable>(
        await this._request<ICatalogTablesResponse>(
          `catalog/databases/${segment(database)}/tables`
        ),
        'tables'
      ).map(t => ({ ...t, database: t.database || database }))
    );
  }

  /**
   * Describe a table (columns, format, ...), unless already loaded (or `force`).
   */
  loadDetails(ref: ITableRef, force = false): Promise<void> {
    return this._load(entry(this._details, refKey(ref)), force, async () => {
      const reply = await this._request<ICatalogTableDetails>(
        `catalog/tables/${segment(ref.database)}/${segment(ref.name)}`
      );
      return {
        ...reply,
        columns: arrayField(reply, 'columns')
      };
    });
  }

  /**
   * Fetch the first `limit` rows of a table (cached per limit) and make them
   * the current preview of the table.
   */
  loadPreview(
    ref: ITableRef,
    limit = this.previewLimit(ref),
    force = false
  ): Promise<void> {
    const key = refKey(ref);
    if (this._previewLimits.get(key) !== limit) {
      this._previewLimits.set(key, limit);
      this._emit();
    }
    return this._load(
      entry(this._previews, `${key}\n${limit}`),
      force,
      async () => {
        const reply = await this._request<ICatalogPreview>(
          `catalog/tables/${segment(ref.database)}/${segment(ref.name)}/preview?limit=${limit}`
        );
        return {
          ...reply,
          columns: arrayField(reply, 'columns'),
          rows: arrayField(reply, 'rows')
        };
      }
    );
  }

  /**
   * Expand or collapse a database; expanding loads its tables.
   */
  setDatabaseExpanded(database: string, expanded: boolean): void {
    if (expanded === this._expandedDatabases.has(database)) {
      return;
    }
    if (expanded) {
      this._expandedDatabases.add(database);
      void this.loadTables(database);
    } else {
      this._expandedDatabases.delete(database);
    }
    this._emit();
  }

  /**
   * Expand or collapse a table; expanding loads its columns.
   */
  setTableExpanded(ref: ITableRef, expanded: boolean): void {
    const key = refKey(ref);
    if (expanded === this._expandedTables.has(key)) {
      return;
    }
    if (expanded) {
      this._expandedTables.set(key, { database: ref.database, name: ref.name });
      void this.loadDetails(ref);
    } else {
      this._expandedTables.delete(key);
    }
    this._emit();
  }

  /**
   * Select a table (or nothing): loads its details and preview.
   */
  select(ref: ITableRef | null): void {
    if (ref === null) {
      if (this._selected !== null) {
        this._selected = null;
        this._emit();
      }
      return;
    }
    if (!this.isSelected(ref)) {
      this._selected = { database: ref.database, name: ref.name };
      this._emit();
    }
    void this.loadDetails(ref);
    void this.loadPreview(ref);
  }

  /**
   * Expand the database of a table and select the table.
   */
  reveal(ref: ITableRef): void {
    this.setDatabaseExpanded(ref.database, true);
    this.select(ref);
  }

  /**
   * Set the search text; the search runs after a short pause in typing.
   * Stale requests are aborted and late answers ignored.
   */
  setQuery(query: string): void {
    if (query === this._search.query) {
      return;
    }
    this._cancelSearch();
    if (query.trim() === '') {
      this._search = { ...EMPTY_SEARCH, query };
    } else {
      this._search = { ...this._search, query, status: 'loading' };
      this._searchTimer = window.setTimeout(() => {
        this._searchTimer = null;
        void this._runSearch();
      }, this._searchDelay);
    }
    this._emit();
  }

  /**
   * Run the search for the current query now (e.g. retry after an error).
   */
  searchNow(): Promise<void> {
    this._cancelSearch();
    if (this._search.query.trim() === '') {
      return Promise.resolve();
    }
    this._search = { ...this._search, status: 'loading', error: null };
    this._emit();
    return this._runSearch();
  }

  /**
   * Ask the server to re-read the catalog (`POST catalog/refresh`), then
   * reload what is shown: databases, expanded databases and tables, the
   * selected table, the search.
   *
   * @returns The server's summary.
   * @throws The request error when the server could not refresh.
   */
  refresh(): Promise<ICatalogRefreshResponse> {
    if (this._refreshing) {
      return this._refreshing;
    }
    const refreshing = this._doRefresh().finally(() => {
      this._refreshing = null;
      this._emit();
    });
    this._refreshing = refreshing;
    this._emit();
    return refreshing;
  }

  /**
   * Reload what is shown from the server's cache (no `POST refresh`), e.g.
   * to retry after an error.
   */
  async reload(): Promise<void> {
    this._clearCaches();
    this._emit();
    const loads: Promise<void>[] = [this.loadDatabases(true)];
    for (const database of this._expandedDatabases) {
      loads.push(this.loadTables(database, true));
    }
    for (const ref of this._expandedTables.values()) {
      loads.push(this.loadDetails(ref, true));
    }
    const selected = this._selected;
    if (selected) {
      loads.push(this.loadDetails(selected, true));
      loads.push(this.loadPreview(selected, this.previewLimit(selected), true));
    }
    if (this._search.query.trim() !== '') {
      loads.push(this.searchNow());
    }
    await Promise.all(loads);
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._cancelSearch();
    Signal.clearData(this);
  }

  private async _doRefresh(): Promise<ICatalogRefreshResponse> {
    let reply: ICatalogRefreshResponse;
    try {
      reply = await this._request<ICatalogRefreshResponse>('catalog/refresh', {
        method: 'POST'
      });
    } catch (error) {
      // Make sure an empty panel shows its own error state.
      void this.loadDatabases();
      throw error;
    }
    await this.reload();
    return reply;
  }

  private async _runSearch(): Promise<void> {
    const query = this._search.query.trim();
    const seq = ++this._searchSeq;
    const controller = new AbortController();
    this._searchAbort = controller;
    try {
      const reply = await this._request<ICatalogSearchResponse>(
        `catalog/search?q=${encodeURIComponent(query)}&limit=${this._searchLimit}`,
        { signal: controller.signal }
      );
      if (seq !== this._searchSeq) {
        return; // Out of date: a newer search was started.
      }
      this._search = {
        ...this._search,
        status: 'ready',
        results: arrayField<unknown>(reply, 'results').map(normalizeHit),
        resultsQuery: query,
        error: null,
        tookMs: typeof reply.took_ms === 'number' ? reply.took_ms : null
      };
    } catch (error) {
      if (seq !== this._searchSeq) {
        return;
      }
      this._search = {
        ...this._search,
        status: 'error',
        error: errorMessage(error)
      };
    } finally {
      if (this._searchAbort === controller) {
        this._searchAbort = null;
      }
    }
    this._emit();
  }

  private _cancelSearch(): void {
    if (this._searchTimer !== null) {
      window.clearTimeout(this._searchTimer);
      this._searchTimer = null;
    }
    // Invalidate the running search (if any) and abort its request.
    this._searchSeq++;
    this._searchAbort?.abort();
    this._searchAbort = null;
  }

  private _clearCaches(): void {
    // Entries are replaced (not reset) so in-flight answers land nowhere.
    this._databases = { state: IDLE, pending: null, generation: 0 };
    this._tables.clear();
    this._details.clear();
    this._previews.clear();
  }

  private _load<T>(
    target: ICacheEntry<T>,
    force: boolean,
    fetch: () => Promise<T>
  ): Promise<void> {
    if (!force) {
      if (target.pending) {
        return target.pending;
      }
      if (target.state.status === 'ready') {
        return Promise.resolve();
      }
    }
    const generation = ++target.generation;
    const current = (): boolean => target.generation === generation;
    target.state = {
      status: 'loading',
      value: target.state.value,
      error: null
    };
    const pending = fetch()
      .then(
        value => {
          if (current()) {
            target.state = { status: 'ready', value, error: null };
          }
        },
        (error: unknown) => {
          if (current()) {
            target.state = {
              status: 'error',
              value: target.state.value,
              error: errorMessage(error)
            };
          }
        }
      )
      .finally(() => {
        if (current()) {
          target.pending = null;
          this._emit();
        }
      });
    target.pending = pending;
    this._emit();
    return pending;
  }

  private _emit(): void {
    if (!this._isDisposed) {
      this._changed.emit();
    }
  }

  private _request: CatalogModel.RequestFunction;
  private _searchDelay: number;
  private _searchLimit: number;
  private _databases: ICacheEntry<ICatalogDatabase[]> = {
    state: IDLE,
    pending: null,
    generation: 0
  };
  private _tables = new Map<string, ICacheEntry<ICatalogTable[]>>();
  private _details = new Map<string, ICacheEntry<ICatalogTableDetails>>();
  private _previews = new Map<string, ICacheEntry<ICatalogPreview>>();
  private _previewLimits = new Map<string, number>();
  private _expandedDatabases = new Set<string>();
  private _expandedTables = new Map<string, ITableRef>();
  private _selected: ITableRef | null = null;
  private _search: ISearchState = EMPTY_SEARCH;
  private _searchTimer: number | null = null;
  private _searchSeq = 0;
  private _searchAbort: AbortController | null = null;
  private _refreshing: Promise<ICatalogRefreshResponse> | null = null;
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
}

/**
 * A namespace for `CatalogModel` statics.
 */
export namespace CatalogModel {
  /**
   * Signature of `requestAPI` (injectable for tests).
   */
  export type RequestFunction = <T>(
    endPoint: string,
    init?: RequestInit
  ) => Promise<T>;

  /**
   * Constructor options.
   */
  export interface IOptions {
    /** REST client (defaults to `requestAPI`). */
    request?: RequestFunction;
    /** Milliseconds of typing pause before searching (default 150). */
    searchDelay?: number;
    /** Maximum number of search results (default 50). */
    searchLimit?: number;
  }
}

/**
 * A cached value with its in-flight request.
 */
interface ICacheEntry<T> {
  state: ILoadable<T>;
  pending: Promise<void> | null;
  /** Incremented by each load; answers of older loads are dropped. */
  generation: number;
}

function entry<T>(
  map: Map<string, ICacheEntry<T>>,
  key: string
): ICacheEntry<T> {
  let value = map.get(key);
  if (!value) {
    value = { state: IDLE, pending: null, generation: 0 };
    map.set(key, value);
  }
  return value;
}

/**
 * URL-encode one path segment.
 */
function segment(name: string): string {
  return encodeURIComponent(name);
}

/**
 * An array field of a JSON reply; throws on an unexpected shape.
 */
function arrayField<T>(reply: unknown, key: string): T[] {
  const value =
    typeof reply === 'object' && reply !== null
      ? (reply as Record<string, unknown>)[key]
      : undefined;
  if (!Array.isArray(value)) {
    throw new Error(`Unexpected reply from the server: no "${key}" list`);
  }
  return value as T[];
}

/**
 * A search hit in the documented flat shape. Also accepts hits that nest the
 * table as `{"table": {...}, "match", "score", "column"}`.
 */
function normalizeHit(hit: unknown): ICatalogSearchResult {
  const record = (typeof hit === 'object' && hit !== null ? hit : {}) as Record<
    string,
    unknown
  >;
  const table = record['table'];
  if (
    typeof record['database'] !== 'string' &&
    typeof table === 'object' &&
    table !== null
  ) {
    const { table: _nested, ...rest } = record;
    return { ...(table as ICatalogTable), ...rest } as ICatalogSearchResult;
  }
  return record as unknown as ICatalogSearchResult;
}
