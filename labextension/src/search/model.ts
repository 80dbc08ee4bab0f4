import { type ILoadable, IDLE, RemoteModel } from '../common/remotemodel';
import { type ISearchReply } from '../tokens';

/**
 * Results per kind the panel asks for.
 */
export const RESULTS_PER_KIND = 10;

/**
 * State of the search panel: the query and the last answer of
 * `GET /mlplat/api/search` (debounced while typing; late answers dropped).
 */
export class SearchModel extends RemoteModel {
  constructor(options: RemoteModel.IOptions = {}) {
    super(options, 300);
  }

  /**
   * The query being searched.
   */
  get query(): string {
    return this._query;
  }

  /**
   * The results of the query (grouped by kind), or why they failed.
   */
  get results(): ILoadable<ISearchReply> {
    return this._results;
  }

  /**
   * Set the query; the search runs after a short pause in typing.
   */
  setQuery(query: string): void {
    if (query === this._query) {
      return;
    }
    this._query = query;
    if (query.trim() === '') {
      this.cancelSearch();
      this._results = IDLE;
    } else {
      this._results = { ...this._results, status: 'loading', error: null };
      this.debounceSearch();
    }
    this.emit();
  }

  /**
   * Search the current query now (Enter).
   */
  searchNow(): Promise<void> {
    this.cancelSearch();
    if (this._query.trim() === '') {
      return Promise.resolve();
    }
    this._results = { ...this._results, status: 'loading', error: null };
    this.emit();
    return this.runSearch();
  }

  protected async runSearch(): Promise<void> {
    const query = this._query;
    const outcome = await this.searchRequest<ISearchReply>(
      `search?q=${encodeURIComponent(query)}&limit=${RESULTS_PER_KIND}`
    );
    if (outcome === null) {
      return; // a newer search is under way
    }
    this._results = outcome.ok
      ? { status: 'ready', value: outcome.reply, error: null }
      : { status: 'error', value: null, error: outcome.error };
    this.emit();
  }

  private _query = '';
  private _results: ILoadable<ISearchReply> = IDLE;
}
