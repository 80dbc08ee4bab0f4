import {
  nullTranslator,
  type ITranslator,
  type TranslationBundle
} from '@jupyterlab/translation';
import { DisposableDelegate, type IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { type ISignal, Signal } from '@lumino/signaling';

import { errorMessage, requestAPI } from '../common/api';
import { FRONTEND_VERSION } from '../common/version';
import {
  type IPlatformStatus,
  type IStatusModel,
  TRANSLATION_DOMAIN
} from '../tokens';

/**
 * Longest pause between status polls while the server does not answer.
 */
const MAX_BACKOFF_MS = 5 * 60 * 1000;

/**
 * Fetches `GET mlplat/api/status` and notifies observers; polls (with backoff
 * while it fails, on standby while the page is hidden or nobody watches).
 */
export class StatusModel implements IStatusModel, IDisposable {
  constructor(options: StatusModel.IOptions = {}) {
    this._trans = (options.translator ?? nullTranslator).load(
      TRANSLATION_DOMAIN
    );
    this._fetch =
      options.fetch ??
      (() => requestAPI<IPlatformStatus>('status', {}, undefined, this._trans));
    this._frontendVersion = options.frontendVersion ?? FRONTEND_VERSION;
    this._poll = new Poll({
      auto: false,
      factory: async () => {
        await this.refresh();
        if (this._error !== null) {
          throw new Error(this._error); // back off while it fails
        }
      },
      frequency: { interval: Poll.NEVER, backoff: true, max: MAX_BACKOFF_MS },
      name: 'jupyter-mlplat:status',
      standby: () => (this._isWatched() ? 'when-hidden' : true)
    });
    this.refreshInterval = options.refreshInterval ?? 30;
    document.addEventListener('visibilitychange', this._onVisibilityChange);
  }

  get status(): IPlatformStatus | null {
    return this._status;
  }

  get error(): string | null {
    return this._error;
  }

  get loading(): boolean {
    return this._pending !== null;
  }

  get lastUpdated(): Date | null {
    return this._lastUpdated;
  }

  get versionMismatch(): string | null {
    return this._versionMismatch;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * Seconds between automatic refreshes while watched; 0 disables them.
   */
  get refreshInterval(): number {
    return this._refreshInterval;
  }

  set refreshInterval(seconds: number) {
    this._refreshInterval =
      Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
    if (this._isDisposed) {
      return;
    }
    if (this._refreshInterval === 0) {
      void this._poll.stop();
      return;
    }
    const interval = this._refreshInterval * 1000;
    this._poll.frequency = {
      interval,
      backoff: true,
      max: Math.max(interval, MAX_BACKOFF_MS)
    };
    // The first tick waits one interval: the plugins fetch once at start.
    void this._poll.schedule({ interval, phase: 'started' });
  }

  refresh(): Promise<void> {
    if (this._pending) {
      return this._pending;
    }
    const pending = this._doRefresh().finally(() => {
      this._pending = null;
      this._emit();
    });
    this._pending = pending;
    this._emit();
    return pending;
  }

  watch(isActive: () => boolean): IDisposable {
    this._watchers.add(isActive);
    return new DisposableDelegate(() => {
      this._watchers.delete(isActive);
    });
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._poll.dispose();
    this._watchers.clear();
    document.removeEventListener('visibilitychange', this._onVisibilityChange);
    Signal.clearData(this);
  }

  private async _doRefresh(): Promise<void> {
    try {
      const status = await this._fetch();
      if (typeof status !== 'object' || status === null) {
        throw new Error(
          this._trans.__('Empty status response from the server')
        );
      }
      this._status = status;
      this._error = null;
      this._checkVersion(status);
    } catch (error) {
      // Keep the last good status around; the view shows the error on top.
      this._error = errorMessage(error);
    }
    this._lastUpdated = new Date();
  }

  private _checkVersion(status: IPlatformStatus): void {
    const serverVersion = status.version;
    if (
      typeof serverVersion !== 'string' ||
      serverVersion === this._frontendVersion
    ) {
      this._versionMismatch = null;
      return;
    }
    const message = this._trans.__(
      'The jupyter-mlplat server extension (version %1) does not match the front-end (version %2). Reinstall the package and reload the page.',
      serverVersion,
      this._frontendVersion
    );
    if (message !== this._versionMismatch) {
      console.warn(`[jupyter-mlplat] ${message}`);
    }
    this._versionMismatch = message;
  }

  private _isWatched(): boolean {
    for (const isActive of this._watchers) {
      if (isActive()) {
        return true;
      }
    }
    return false;
  }

  private _onVisibilityChange = (): void => {
    // Catch up right away when the user comes back to a stale tab.
    const stale =
      this._lastUpdated === null ||
      Date.now() - this._lastUpdated.getTime() > this._refreshInterval * 1000;
    if (
      this._refreshInterval > 0 &&
      stale &&
      document.visibilityState !== 'hidden' &&
      this._isWatched()
    ) {
      void this._poll.refresh();
    }
  };

  private _emit(): void {
    if (!this._isDisposed) {
      this._changed.emit();
    }
  }

  private _fetch: () => Promise<IPlatformStatus>;
  private _frontendVersion: string;
  private _status: IPlatformStatus | null = null;
  private _error: string | null = null;
  private _lastUpdated: Date | null = null;
  private _versionMismatch: string | null = null;
  private _pending: Promise<void> | null = null;
  private _refreshInterval = 0;
  private _poll: Poll;
  private _trans: TranslationBundle;
  private _watchers = new Set<() => boolean>();
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
}

/**
 * A namespace for `StatusModel` statics.
 */
export namespace StatusModel {
  /**
   * Constructor options.
   */
  export interface IOptions {
    /** Seconds between automatic refreshes while watched (0 disables). */
    refreshInterval?: number;
    /** Override the status request (tests). */
    fetch?: () => Promise<IPlatformStatus>;
    /** Override the front-end version (tests). */
    frontendVersion?: string;
    /** Translations of the messages the model produces. */
    translator?: ITranslator;
  }
}
