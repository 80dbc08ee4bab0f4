import { type TranslationBundle } from '@jupyterlab/translation';
import { PromiseDelegate } from '@lumino/coreutils';
import { Poll } from '@lumino/polling';

import { errorMessage } from '../common/api';
import {
  IDLE,
  type ILoadable,
  type LoadStatus,
  RemoteModel,
  segment
} from '../common/remotemodel';
import {
  type ICatalogDatabase,
  type ICatalogDatabasesResponse,
  type ICatalogPreview,
  type ICatalogRefreshJob,
  type ICatalogSearchResponse,
  type ICatalogSearchResult,
  type ICatalogTable,
  type ICatalogTableDetails,
  type ICatalogTablesResponse
} from '../tokens';

export { type ILoadable, type LoadStatus };

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
 * expansion/selection state, a debounced search and the server's background
 * refresh job (followed while it runs).
 *
 * All loaders dedupe concurrent calls, never reject (failures end up in the
 * `error` of the corresponding `ILoadable`) and emit `changed`.
 */
export class CatalogModel extends RemoteModel {
  constructor(options: CatalogModel.IOptions = {}) {
    super(options, 150);
    this._searchLimit = options.searchLimit ?? 50;
    this._refreshPoll = new Poll({
      auto: false,
      factory: () => this._followJob(),
      frequency: {
        interval: options.refreshPollInterval ?? 500,
        backoff: true,
        max: 10 * 1000
      },
      name: 'jupyter-mlplat:catalog-refresh',
      standby: 'when-hidden'
    });
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
   * Whether a refresh job runs on the server (as far as the panel knows).
   */
  get refreshing(): boolean {
    return this._job?.state === 'running';
  }

  /**
   * The server's running or last refresh job, once asked for.
   */
  get refreshJob(): ICatalogRefreshJob | null {
    return this._job;
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
        await this.request<ICatalogDatabasesResponse>('catalog/databases');
      return arrayField<ICatalogDatabase>(reply, 'databases', this.trans);
    });
  }

  /**
   * Fetch the tables of a database, unless already loaded (or `force`).
   */
  loadTables(database: string, force = false): Promise<void> {
    return this._load(entry(this._tables, database), force, async () =>
      arrayField<ICatalogTable>(
        await this.request<ICatalogTablesResponse>(
          `catalog/databases/${segment(database)}/tables`
        ),
        'tables',
        this.trans
      ).map(t => ({ ...t, database: t.database || database }))
    );
  }

  /**
   * Describe a table (columns, format, ...), unless already loaded (or `force`).
   */
  loadDetails(ref: ITableRef, force = false): Promise<void> {
    return this._load(entry(this._details, refKey(ref)), force, async () => {
      const reply = await this.request<ICatalogTableDetails>(
        `catalog/tables/${segment(ref.database)}/${segment(ref.name)}`
      );
      return {
        ...reply,
        columns: arrayField(reply, 'columns', this.trans)
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
      this.emit();
    }
    return this._load(
      entry(this._previews, `${key}\n${limit}`),
      force,
      async () => {
        const reply = await this.request<ICatalogPreview>(
          `catalog/tables/${segment(ref.database)}/${segment(ref.name)}/preview?limit=${limit}`
        );
        return {
          ...reply,
          columns: arrayField(reply, 'columns', this.trans),
          rows: arrayField(reply, 'rows', this.trans)
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
    this.emit();
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
    this.emit();
  }

  /**
   * Select a table (or nothing): loads its details and preview.
   */
  select(ref: ITableRef | null): void {
    if (ref === null) {
      if (this._selected !== null) {
        this._selected = null;
        this.emit();
      }
      return;
    }
    if (!this.isSelected(ref)) {
      this._selected = { database: ref.database, name: ref.name };
      this.emit();
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
    this.cancelSearch();
    if (query.trim() === '') {
      this._search = { ...EMPTY_SEARCH, query };
    } else {
      this._search = { ...this._search, query, status: 'loading' };
      this.debounceSearch();
    }
    this.emit();
  }

  /**
   * Run the search for the current query now (e.g. retry after an error).
   */
  searchNow(): Promise<void> {
    this.cancelSearch();
    if (this._search.query.trim() === '') {
      return Promise.resolve();
    }
    this._search = { ...this._search, status: 'loading', error: null };
    this.emit();
    return this.runSearch();
  }

  /**
   * Start a background refresh on the server (`POST catalog/refresh`; joins
   * the one already running), follow its progress, then reload what is
   * shown: databases, expanded databases and tables, the selected table, the
   * search.
   *
   * @returns The job once it has ended (`done` or `failed`).
   * @throws The request error when the server could not start one.
   */
  async refresh(): Promise<ICatalogRefreshJob> {
    let job: ICatalogRefreshJob;
    try {
      job = await this.request<ICatalogRefreshJob>('catalog/refresh', {
        method: 'POST'
      });
    } catch (error) {
      // Make sure an empty panel shows its own error state.
      void this.loadDatabases();
      throw error;
    }
    return this._track(job);
  }

  /**
   * Ask the server whether a refresh runs (e.g. its periodic one) and follow
   * it if so.
   */
  async checkRefresh(): Promise<void> {
    try {
      const job = await this.request<ICatalogRefreshJob>('catalog/refresh');
      if (job.state === 'running') {
        void this._track(job);
      }
    } catch {
      // Older server, or not reachable: the tree shows the latter.
    }
  }

  /**
   * Reload what is shown from the server's cache (no `POST refresh`), e.g.
   * to retry after an error.
   */
  async reload(): Promise<void> {
    this._clearCaches();
    this.emit();
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

  override dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._refreshPoll.dispose();
    this._jobEnded?.reject(new Error('disposed'));
    super.dispose();
  }

  protected async runSearch(): Promise<void> {
    const query = this._search.query.trim();
    const outcome = await this.searchRequest<ICatalogSearchResponse>(
      `catalog/search?q=${encodeURIComponent(query)}&limit=${this._searchLimit}`
    );
    if (outcome === null) {
      return; // Out of date: a newer search was started.
    }
    try {
      if (!outcome.ok) {
        throw new Error(outcome.error);
      }
      const reply = outcome.reply;
      this._search = {
        ...this._search,
        status: 'ready',
        results: arrayField<unknown>(reply, 'results', this.trans).map(
          normalizeHit
        ),
        resultsQuery: query,
        error: null,
        tookMs: typeof reply.took_ms === 'number' ? reply.took_ms : null
      };
    } catch (error) {
      this._search = {
        ...this._search,
        status: 'error',
        error: errorMessage(error)
      };
    }
    this.emit();
  }

  /**
   * Follow a refresh job until it ends; resolves with its last state.
   */
  private _track(job: ICatalogRefreshJob): Promise<ICatalogRefreshJob> {
    this._setJob(job);
    if (job.state !== 'running') {
      return this._jobFinished(job);
    }
    if (!this._jobEnded) {
      this._jobEnded = new PromiseDelegate<ICatalogRefreshJob>();
      // Callers may not wait for the end: never an unhandled rejection.
      this._jobEnded.promise.catch(() => undefined);
    }
    void this._refreshPoll.start();
    return this._jobEnded.promise;
  }

  /**
   * One tick of the refresh poll: fetch the job's state; stop when it ended.
   */
  private async _followJob(): Promise<void> {
    const job = await this.request<ICatalogRefreshJob>('catalog/refresh');
    this._setJob(job);
    if (job.state !== 'running') {
      void this._refreshPoll.stop();
      const ended = this._jobEnded;
      this._jobEnded = null;
      ended?.resolve(await this._jobFinished(job));
    }
  }

  private async _jobFinished(
    job: ICatalogRefreshJob
  ): Promise<ICatalogRefreshJob> {
    if (job.state === 'done') {
      await this.reload();
    } else {
      void this.loadDatabases();
    }
    return job;
  }

  private _setJob(job: ICatalogRefreshJob): void {
    this._job = job;
    this.emit();
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
          this.emit();
        }
      });
    target.pending = pending;
    this.emit();
    return pending;
  }

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
  private _job: ICatalogRefreshJob | null = null;
  private _jobEnded: PromiseDelegate<ICatalogRefreshJob> | null = null;
  private _refreshPoll: Poll;
}

/**
 * A namespace for `CatalogModel` statics.
 */
export namespace CatalogModel {
  /**
   * Constructor options (the search delay defaults to 150 ms).
   */
  export interface IOptions extends RemoteModel.IOptions {
    /** Maximum number of search results (default 50). */
    searchLimit?: number;
    /** Milliseconds between polls of a running refresh (default 500). */
    refreshPollInterval?: number;
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
 * An array field of a JSON reply; throws on an unexpected shape.
 */
function arrayField<T>(
  reply: unknown,
  key: string,
  trans: TranslationBundle
): T[] {
  const value =
    typeof reply === 'object' && reply !== null
      ? (reply as Record<string, unknown>)[key]
      : undefined;
  if (!Array.isArray(value)) {
    throw new Error(
      trans.__('Unexpected reply from the server: no "%1" list', key)
    );
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
