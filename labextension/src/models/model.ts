import { type IDisposable } from '@lumino/disposable';
import { type ISignal, Signal } from '@lumino/signaling';

import { errorMessage, requestAPI } from '../api';
import {
  type IDeployment,
  type IDeploymentsResponse,
  type IDeployRequest,
  type IModelsSearchResponse,
  type IModelVersionDetails,
  type IRegisteredModel,
  type IRegisteredModelDetails
} from '../tokens';

/**
 * Lifecycle of a loaded piece of state.
 */
export type LoadStatus = 'idle' | 'loading' | 'ready' | 'error';

/**
 * A loaded value; `value` keeps the last good value while reloading.
 */
export interface ILoadable<T> {
  readonly status: LoadStatus;
  readonly value: T | null;
  readonly error: string | null;
}

/**
 * State of the model search.
 */
export interface IModelSearch {
  /** Text typed by the user (may be ahead of the results). */
  readonly query: string;
  readonly status: LoadStatus;
  /** Results of the last completed search (kept while the next one runs). */
  readonly results: ReadonlyArray<IRegisteredModel>;
  readonly error: string | null;
}

const IDLE: ILoadable<never> = Object.freeze({
  status: 'idle',
  value: null,
  error: null
});

/**
 * A deployment name derived from a model name, as the server derives it:
 * lowercase letters, digits and '-', starting with a letter, at most 63.
 */
export function deploymentNameFor(modelName: string): string {
  let name = modelName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (!/^[a-z]/.test(name)) {
    name = `m-${name}`.replace(/-+$/, '');
  }
  return name.slice(0, 63).replace(/-+$/, '');
}

/**
 * Why a deployment name is invalid, or `null` when it is valid.
 */
export function deploymentNameError(name: string): string | null {
  if (!name) {
    return 'A name is required.';
  }
  if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name)) {
    return "Use lowercase letters, digits and '-', start with a letter, end with a letter or digit, at most 63 characters.";
  }
  return null;
}

/**
 * Why a canary percentage is invalid (`''` means a full rollout), or `null`.
 */
export function canaryError(value: string): string | null {
  if (value.trim() === '') {
    return null;
  }
  const percent = Number(value);
  if (!Number.isInteger(percent) || percent < 1 || percent > 99) {
    return 'The canary share must be a whole percentage between 1 and 99.';
  }
  return null;
}

/**
 * The model versions a deployment serves: `name/version` keys.
 */
export function servedVersions(deployment: IDeployment): string[] {
  const revisions = [deployment.stable, deployment.canary];
  return revisions.flatMap(r => (r ? [versionKey(r.name, r.version)] : []));
}

/**
 * Key of a model version in maps.
 */
export function versionKey(name: string, version: string): string {
  return JSON.stringify([name, version]);
}

/**
 * Client of the `models/*` and `deployments/*` REST APIs behind the models
 * panel: a debounced search (late answers dropped), the selected model and
 * its versions, version details, and the deployments list (polled while a
 * deployment is in progress).
 */
export class ModelsModel implements IDisposable {
  constructor(options: ModelsModel.IOptions = {}) {
    this._request = options.request ?? requestAPI;
    this._searchDelay = options.searchDelay ?? 200;
    this._pollInterval = options.pollInterval ?? 1500;
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

  get search(): IModelSearch {
    return this._search;
  }

  /**
   * Name of the expanded model, or `null`.
   */
  get selected(): string | null {
    return this._selected;
  }

  /**
   * Details (versions) of a model; `idle` until loaded.
   */
  model(name: string): ILoadable<IRegisteredModelDetails> {
    return this._models.get(name) ?? IDLE;
  }

  /**
   * Details (run, quality, deployments) of a version; `idle` until loaded.
   */
  version(name: string, version: string): ILoadable<IModelVersionDetails> {
    return this._versions.get(versionKey(name, version)) ?? IDLE;
  }

  /**
   * Whether a version's details are shown.
   */
  isVersionExpanded(name: string, version: string): boolean {
    return this._expanded.has(versionKey(name, version));
  }

  get deployments(): ILoadable<IDeployment[]> {
    return this._deployments;
  }

  /**
   * Deployments of the caller serving a model version (stable or canary).
   */
  deploymentsOf(name: string, version: string): IDeployment[] {
    const key = versionKey(name, version);
    return (this._deployments.value ?? []).filter(d =>
      servedVersions(d).includes(key)
    );
  }

  /**
   * Set the search text; the search runs after a short pause in typing.
   */
  setQuery(query: string): void {
    if (query === this._search.query && this._search.status !== 'idle') {
      return;
    }
    this._cancelSearch();
    this._search = { ...this._search, query, status: 'loading' };
    this._searchTimer = window.setTimeout(() => {
      this._searchTimer = null;
      void this._runSearch();
    }, this._searchDelay);
    this._emit();
  }

  /**
   * Run the search for the current text now.
   */
  searchNow(): Promise<void> {
    this._cancelSearch();
    this._search = { ...this._search, status: 'loading', error: null };
    this._emit();
    return this._runSearch();
  }

  /**
   * Expand a model (loading its versions), or collapse it (`null`).
   */
  select(name: string | null): void {
    if (name === this._selected) {
      return;
    }
    this._selected = name;
    this._emit();
    if (name !== null) {
      void this.loadModel(name);
    }
  }

  /**
   * Show or hide a version's details (loading them when shown).
   */
  toggleVersion(name: string, version: string): void {
    const key = versionKey(name, version);
    if (this._expanded.has(key)) {
      this._expanded.delete(key);
    } else {
      this._expanded.add(key);
      void this.loadVersion(name, version);
    }
    this._emit();
  }

  /**
   * Fetch a model's details and versions.
   */
  async loadModel(name: string): Promise<void> {
    await this._load(this._models, name, () =>
      this._request<IRegisteredModelDetails>(`models/${segment(name)}`)
    );
  }

  /**
   * Fetch a version's run, quality results and deployments.
   */
  async loadVersion(name: string, version: string): Promise<void> {
    await this._load(this._versions, versionKey(name, version), () =>
      this._request<IModelVersionDetails>(
        `models/${segment(name)}/versions/${segment(version)}`
      )
    );
  }

  /**
   * Fetch the caller's deployments; keeps polling while one is deploying.
   */
  async loadDeployments(): Promise<void> {
    const seq = ++this._deploymentsSeq;
    this._deployments = { ...this._deployments, status: 'loading' };
    this._emit();
    try {
      const reply = await this._request<IDeploymentsResponse>('deployments');
      if (seq !== this._deploymentsSeq) {
        return;
      }
      const list = Array.isArray(reply?.deployments) ? reply.deployments : [];
      list.sort((a, b) => a.name.localeCompare(b.name));
      this._deployments = { status: 'ready', value: list, error: null };
    } catch (error) {
      if (seq !== this._deploymentsSeq) {
        return;
      }
      this._deployments = {
        ...this._deployments,
        status: 'error',
        error: errorMessage(error)
      };
    }
    this._schedulePoll();
    this._emit();
  }

  /**
   * Start a deployment; the list shows it (and polls it) right away.
   *
   * @throws The server's error (e.g. an invalid name) when it refused.
   */
  async deploy(request: IDeployRequest): Promise<IDeployment> {
    const deployment = await this._request<IDeployment>('deployments', {
      method: 'POST',
      body: JSON.stringify(request)
    });
    this._upsert(deployment);
    return deployment;
  }

  /**
   * Send all the traffic to the canary.
   */
  async promote(name: string): Promise<IDeployment> {
    const deployment = await this._request<IDeployment>(
      `deployments/${segment(name)}/promote`,
      { method: 'POST' }
    );
    this._upsert(deployment);
    return deployment;
  }

  /**
   * Drop the canary, or return to the version served before the last promote.
   */
  async rollback(name: string): Promise<IDeployment> {
    const deployment = await this._request<IDeployment>(
      `deployments/${segment(name)}/rollback`,
      { method: 'POST' }
    );
    this._upsert(deployment);
    return deployment;
  }

  /**
   * Stop a deployment and remove it.
   */
  async remove(name: string): Promise<void> {
    await this._request<void>(`deployments/${segment(name)}`, {
      method: 'DELETE'
    });
    this._deploymentsSeq++; // a list fetched before the delete is stale
    const list = (this._deployments.value ?? []).filter(d => d.name !== name);
    this._deployments = { status: 'ready', value: list, error: null };
    this._emit();
    void this.loadDeployments();
  }

  /**
   * Reload everything shown: search, the open model, open versions, deployments.
   */
  async reload(): Promise<void> {
    const loads: Promise<void>[] = [this.searchNow(), this.loadDeployments()];
    if (this._selected !== null) {
      loads.push(this.loadModel(this._selected));
    }
    for (const key of this._expanded) {
      const [name, version] = JSON.parse(key) as [string, string];
      loads.push(this.loadVersion(name, version));
    }
    await Promise.all(loads);
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._cancelSearch();
    if (this._pollTimer !== null) {
      window.clearTimeout(this._pollTimer);
    }
    Signal.clearData(this);
  }

  private _upsert(deployment: IDeployment): void {
    this._deploymentsSeq++;
    const list = (this._deployments.value ?? []).filter(
      d => d.name !== deployment.name
    );
    list.push(deployment);
    list.sort((a, b) => a.name.localeCompare(b.name));
    this._deployments = { status: 'ready', value: list, error: null };
    this._schedulePoll();
    this._emit();
  }

  private _schedulePoll(): void {
    const busy = (this._deployments.value ?? []).some(
      d => d.state === 'deploying'
    );
    if (!busy || this._pollTimer !== null || this._isDisposed) {
      return;
    }
    this._pollTimer = window.setTimeout(() => {
      this._pollTimer = null;
      void this.loadDeployments().then(() => this._refreshOpenVersions());
    }, this._pollInterval);
  }

  /**
   * After a rollout step, the versions shown may be served by new deployments.
   */
  private async _refreshOpenVersions(): Promise<void> {
    if ((this._deployments.value ?? []).some(d => d.state === 'deploying')) {
      return;
    }
    await Promise.all(
      [...this._expanded].map(key => {
        const [name, version] = JSON.parse(key) as [string, string];
        return this.loadVersion(name, version);
      })
    );
  }

  private async _runSearch(): Promise<void> {
    const query = this._search.query.trim();
    const seq = ++this._searchSeq;
    try {
      const reply = await this._request<IModelsSearchResponse>(
        `models?q=${encodeURIComponent(query)}&limit=50`
      );
      if (seq !== this._searchSeq) {
        return; // A newer search was started: this answer is stale.
      }
      this._search = {
        ...this._search,
        status: 'ready',
        results: Array.isArray(reply?.models) ? reply.models : [],
        error: null
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
    }
    this._emit();
  }

  private _cancelSearch(): void {
    if (this._searchTimer !== null) {
      window.clearTimeout(this._searchTimer);
      this._searchTimer = null;
    }
    this._searchSeq++;
  }

  private async _load<T>(
    cache: Map<string, ILoadable<T>>,
    key: string,
    fetch: () => Promise<T>
  ): Promise<void> {
    const seqKey = `${cache === this._models ? 'model' : 'version'}:${key}`;
    const seq = (this._loadSeq.get(seqKey) ?? 0) + 1;
    this._loadSeq.set(seqKey, seq);
    const previous = cache.get(key) ?? IDLE;
    cache.set(key, { ...previous, status: 'loading' });
    this._emit();
    let next: ILoadable<T>;
    try {
      next = { status: 'ready', value: await fetch(), error: null };
    } catch (error) {
      next = { ...previous, status: 'error', error: errorMessage(error) };
    }
    if (this._loadSeq.get(seqKey) === seq) {
      cache.set(key, next);
      this._emit();
    }
  }

  private _emit(): void {
    if (!this._isDisposed) {
      this._changed.emit();
    }
  }

  private _request: typeof requestAPI;
  private _searchDelay: number;
  private _pollInterval: number;
  private _search: IModelSearch = {
    query: '',
    status: 'idle',
    results: [],
    error: null
  };
  private _searchSeq = 0;
  private _searchTimer: number | null = null;
  private _selected: string | null = null;
  private _models = new Map<string, ILoadable<IRegisteredModelDetails>>();
  private _versions = new Map<string, ILoadable<IModelVersionDetails>>();
  private _loadSeq = new Map<string, number>();
  private _expanded = new Set<string>();
  private _deployments: ILoadable<IDeployment[]> = IDLE;
  private _deploymentsSeq = 0;
  private _pollTimer: number | null = null;
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
}

/**
 * A namespace for `ModelsModel` statics.
 */
export namespace ModelsModel {
  /**
   * Constructor options.
   */
  export interface IOptions {
    /** Override the REST client (tests). */
    request?: typeof requestAPI;
    /** Milliseconds of typing pause before a search runs. */
    searchDelay?: number;
    /** Milliseconds between deployment polls while one is deploying. */
    pollInterval?: number;
  }
}

/**
 * A URL path segment.
 */
function segment(value: string): string {
  return encodeURIComponent(value);
}
