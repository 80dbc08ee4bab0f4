import { DisposableDelegate, type IDisposable } from '@lumino/disposable';
import { type ISignal, Signal } from '@lumino/signaling';

import { errorMessage, requestAPI } from './api';
import { type IPlatformStatus, type IStatusModel } from './tokens';
import { FRONTEND_VERSION } from './version';

/**
 * Fetches `GET mlplat/api/status` and notifies observers.
 */
export class StatusModel implements IStatusModel, IDisposable {
  constructor(options: StatusModel.IOptions = {}) {
    this._fetch =
      options.fetch ?? (() => requestAPI<IPlatformStatus>('status'));
    this._frontendVersion = options.frontendVersion ?? FRONTEND_VERSION;
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
    this._restartTimer();
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
    this._stopTimer();
    this._watchers.clear();
    document.removeEventListener('visibilitychange', this._onVisibilityChange);
    Signal.clearData(this);
  }

  private async _doRefresh(): Promise<void> {
    try {
      const status = await this._fetch();
      if (typeof status !== 'object' || status === null) {
        throw new Error('Empty status response from the server');
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
    const message =
      `The jupyter-mlplat server extension (version ${serverVersion}) does not ` +
      `match the front-end (version ${this._frontendVersion}). ` +
      'Reinstall the package and reload the page.';
    if (message !== this._versionMismatch) {
      console.warn(`[jupyter-mlplat] ${message}`);
    }
    this._versionMismatch = message;
  }

  private _shouldPoll(): boolean {
    if (document.visibilityState === 'hidden') {
      return false;
    }
    for (const isActive of this._watchers) {
      if (isActive()) {
        return true;
      }
    }
    return false;
  }

  private _restartTimer(): void {
    this._stopTimer();
    if (this._refreshInterval > 0 && !this._isDisposed) {
      this._timer = window.setInterval(() => {
        if (this._shouldPoll()) {
          void this.refresh();
        }
      }, this._refreshInterval * 1000);
    }
  }

  private _stopTimer(): void {
    if (this._timer !== null) {
      window.clearInterval(this._timer);
      this._timer = null;
    }
  }

  private _onVisibilityChange = (): void => {
    // Catch up immediately when the user comes back to a stale tab.
    const stale =
      this._lastUpdated === null ||
      Date.now() - this._lastUpdated.getTime() > this._refreshInterval * 1000;
    if (this._refreshInterval > 0 && stale && this._shouldPoll()) {
      void this.refresh();
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
  private _timer: number | null = null;
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
  }
}
