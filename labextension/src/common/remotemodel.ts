import {
  nullTranslator,
  type ITranslator,
  type TranslationBundle
} from '@jupyterlab/translation';
import { type IDisposable } from '@lumino/disposable';
import { Debouncer } from '@lumino/polling';
import { type ISignal, Signal } from '@lumino/signaling';

import { TRANSLATION_DOMAIN } from '../tokens';
import { errorMessage, requestAPI } from './api';

/**
 * Lifecycle of a lazily loaded piece of state.
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
 * The `idle` state of every loadable (nothing asked for yet).
 */
export const IDLE: ILoadable<never> = Object.freeze({
  status: 'idle',
  value: null,
  error: null
});

/**
 * Outcome of a search request: its reply, or why it failed.
 */
export type SearchOutcome<T> =
  { ok: true; reply: T } | { ok: false; error: string };

/**
 * Base of the panel models (catalog, models): the `changed` signal, dispose,
 * a REST client, the translation bundle, and a debounced search whose stale
 * requests are aborted and whose late answers are dropped.
 */
export abstract class RemoteModel implements IDisposable {
  constructor(options: RemoteModel.IOptions, defaultSearchDelay: number) {
    this.trans = (options.translator ?? nullTranslator).load(
      TRANSLATION_DOMAIN
    );
    this.request =
      options.request ??
      (<T>(endPoint: string, init?: RequestInit) =>
        requestAPI<T>(endPoint, init, undefined, this.trans));
    this._debouncer = new Debouncer(
      () => this.runSearch(),
      options.searchDelay ?? defaultSearchDelay
    );
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

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this.cancelSearch();
    this._debouncer.dispose();
    Signal.clearData(this);
  }

  /**
   * Run the search for the current query (called after a pause in typing).
   */
  protected abstract runSearch(): Promise<void>;

  /**
   * Run `runSearch` after a pause in typing; the running search goes stale.
   */
  protected debounceSearch(): void {
    this.cancelSearch();
    // A stopped debouncer rejects the pending invocation: nothing to report.
    this._debouncer.invoke().catch(() => undefined);
  }

  /**
   * Forget a pending search, make a running one stale and abort its request.
   */
  protected cancelSearch(): void {
    void this._debouncer.stop();
    this._searchSeq++;
    this._searchAbort?.abort();
    this._searchAbort = null;
  }

  /**
   * Send a search request; `null` when a newer search made it stale.
   */
  protected async searchRequest<T>(
    endPoint: string
  ): Promise<SearchOutcome<T> | null> {
    const seq = ++this._searchSeq;
    const controller = new AbortController();
    this._searchAbort = controller;
    try {
      const reply = await this.request<T>(endPoint, {
        signal: controller.signal
      });
      return seq === this._searchSeq ? { ok: true, reply } : null;
    } catch (error) {
      return seq === this._searchSeq
        ? { ok: false, error: errorMessage(error) }
        : null;
    } finally {
      if (this._searchAbort === controller) {
        this._searchAbort = null;
      }
    }
  }

  /**
   * Emit `changed` (unless disposed).
   */
  protected emit(): void {
    if (!this._isDisposed) {
      this._changed.emit();
    }
  }

  /** The REST client. */
  protected readonly request: RemoteModel.RequestFunction;
  /** Translations of user-visible messages. */
  protected readonly trans: TranslationBundle;

  private _debouncer: Debouncer<void>;
  private _searchSeq = 0;
  private _searchAbort: AbortController | null = null;
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
}

/**
 * A namespace for `RemoteModel` statics.
 */
export namespace RemoteModel {
  /**
   * Signature of `requestAPI` (injectable for tests).
   */
  export type RequestFunction = <T>(
    endPoint: string,
    init?: RequestInit
  ) => Promise<T>;

  /**
   * Constructor options shared by the panel models.
   */
  export interface IOptions {
    /** REST client (defaults to `requestAPI`). */
    request?: RequestFunction;
    /** Milliseconds of typing pause before a search runs. */
    searchDelay?: number;
    /** Translations of the messages the model produces. */
    translator?: ITranslator;
  }
}

/**
 * URL-encode one path segment.
 */
export function segment(name: string): string {
  return encodeURIComponent(name);
}
