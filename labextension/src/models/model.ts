import { type TranslationBundle } from '@jupyterlab/translation';
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
  type IDeployment,
  type IDeploymentsResponse,
  type IDeployRequest,
  type IModelsSearchResponse,
  type IModelVersionDetails,
  type IRegisteredModel,
  type IRegisteredModelDetails,
  type IReportSummary
} from '../tokens';
import { modelReports } from './reports/api';

export { type ILoadable, type LoadStatus };

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
export function deploymentNameError(
  trans: TranslationBundle,
  name: string
): string | null {
  if (!name) {
    return trans.__('A name is required.');
  }
  if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name)) {
    return trans.__(
      "Use lowercase letters, digits and '-', start with a letter, end with a letter or digit, at most 63 characters."
    );
  }
  return null;
}

/**
 * Why a canary percentage is invalid (`''` means a full rollout), or `null`.
 */
export function canaryError(
  trans: TranslationBundle,
  value: string
): string | null {
  if (value.trim() === '') {
    return null;
  }
  const percent = Number(value);
  if (!Number.isInteger(percent) || percent < 1 || percent > 99) {
    return trans.__(
      'The canary share must be a whole percentage between 1 and 99.'
    );
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
 * Client of the `models/*`, `reports` and `deployments/*` REST APIs behind
 * the models panel: a debounced search (late answers dropped), the selected
 * model with its versions and their evaluation reports, version details, the
 * versions picked for a comparison, and the deployments list (polled while a
 * deployment is in progress).
 */
export class ModelsModel extends RemoteModel {
  constructor(options: ModelsModel.IOptions = {}) {
    super(options, 200);
    this._deploymentsPoll = new Poll({
      auto: false,
      factory: async () => {
        await this.loadDeployments();
        if (this._deployments.status === 'error') {
          throw new Error(this._deployments.error ?? ''); // back off
        }
        await this._refreshOpenVersions();
      },
      frequency: {
        interval: options.pollInterval ?? 1500,
        backoff: true,
        max: 30 * 1000
      },
      name: 'jupyter-mlplat:deployments',
      standby: 'when-hidden'
    });
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

  /**
   * Evaluation reports of a model, newest first; `idle` until loaded.
   */
  reports(name: string): ILoadable<IReportSummary[]> {
    return this._reports.get(name) ?? IDLE;
  }

  /**
   * The newest evaluation report of a version, or `null` when it has none
   * (or the model's reports are not loaded yet).
   */
  reportOf(name: string, version: string): IReportSummary | null {
    const reports = this.reports(name).value ?? [];
    return reports.find(r => r.version === version) ?? null;
  }

  /**
   * Versions of a model picked for a side-by-side comparison (at most two,
   * in the order picked).
   */
  picks(name: string): ReadonlyArray<string> {
    return this._picks.get(name) ?? [];
  }

  /**
   * Pick a version for comparison, or unpick it; a third pick replaces the
   * oldest one.
   */
  togglePick(name: string, version: string): void {
    const picks = [...this.picks(name)];
    const index = picks.indexOf(version);
    if (index >= 0) {
      picks.splice(index, 1);
    } else {
      picks.push(version);
      if (picks.length > 2) {
        picks.shift();
      }
    }
    this._picks.set(name, picks);
    this.emit();
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
    this._search = { ...this._search, query, status: 'loading' };
    this.debounceSearch();
    this.emit();
  }

  /**
   * Run the search for the current text now.
   */
  searchNow(): Promise<void> {
    this.cancelSearch();
    this._search = { ...this._search, status: 'loading', error: null };
    this.emit();
    return this.runSearch();
  }

  /**
   * Expand a model (loading its versions), or collapse it (`null`).
   */
  select(name: string | null): void {
    if (name === this._selected) {
      return;
    }
    this._selected = name;
    this.emit();
    if (name !== null) {
      void this.loadModel(name);
    }
  }

  /**
   * Show a model found elsewhere (the search panel): search its name, expand
   * it and, given a version, open that version's details.
   */
  async reveal(name: string, version?: string): Promise<void> {
    this.setQuery(name);
    await this.searchNow();
    this.select(name);
    if (version !== undefined && !this.isVersionExpanded(name, version)) {
      this.toggleVersion(name, version);
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
    this.emit();
  }

  /**
   * Fetch a model's details and versions.
   */
  async loadModel(name: string): Promise<void> {
    await Promise.all([
      this._load(this._models, `model:${name}`, name, () =>
        this.request<IRegisteredModelDetails>(`models/${segment(name)}`)
      ),
      this.loadReports(name)
    ]);
  }

  /**
   * Fetch the evaluation reports of a model (newest first).
   */
  async loadReports(name: string): Promise<void> {
    await this._load(this._reports, `reports:${name}`, name, () =>
      modelReports(name, this.request)
    );
  }

  /**
   * Fetch a version's run, quality results and deployments.
   */
  async loadVersion(name: string, version: string): Promise<void> {
    const key = versionKey(name, version);
    await this._load(this._versions, `version:${key}`, key, () =>
      this.request<IModelVersionDetails>(
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
    this.emit();
    try {
      const reply = await this.request<IDeploymentsResponse>('deployments');
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
    this._pollWhileDeploying();
    this.emit();
  }

  /**
   * Start a deployment; the list shows it (and polls it) right away.
   *
   * @throws The server's error (e.g. an invalid name) when it refused.
   */
  async deploy(request: IDeployRequest): Promise<IDeployment> {
    const deployment = await this.request<IDeployment>('deployments', {
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
    const deployment = await this.request<IDeployment>(
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
    const deployment = await this.request<IDeployment>(
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
    await this.request<void>(`deployments/${segment(name)}`, {
      method: 'DELETE'
    });
    this._deploymentsSeq++; // a list fetched before the delete is stale
    const list = (this._deployments.value ?? []).filter(d => d.name !== name);
    this._deployments = { status: 'ready', value: list, error: null };
    this.emit();
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

  override dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._deploymentsPoll.dispose();
    super.dispose();
  }

  private _upsert(deployment: IDeployment): void {
    this._deploymentsSeq++;
    const list = (this._deployments.value ?? []).filter(
      d => d.name !== deployment.name
    );
    list.push(deployment);
    list.sort((a, b) => a.name.localeCompare(b.name));
    this._deployments = { status: 'ready', value: list, error: null };
    this._pollWhileDeploying();
    this.emit();
  }

  /**
   * Poll the deployments while one is deploying; stop once none is.
   */
  private _pollWhileDeploying(): void {
    if (this.isDisposed) {
      return;
    }
    const busy = (this._deployments.value ?? []).some(
      d => d.state === 'deploying'
    );
    if (busy) {
      // The first tick comes one interval later (the list is fresh now).
      if (!this._polling) {
        this._polling = true;
        void this._deploymentsPoll.schedule({
          interval: this._deploymentsPoll.frequency.interval,
          phase: 'started'
        });
      }
    } else if (this._polling) {
      this._polling = false;
      void this._deploymentsPoll.stop();
    }
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

  protected async runSearch(): Promise<void> {
    const query = this._search.query.trim();
    const outcome = await this.searchRequest<IModelsSearchResponse>(
      `models?q=${encodeURIComponent(query)}&limit=50`
    );
    if (outcome === null) {
      return; // A newer search was started: this answer is stale.
    }
    this._search = outcome.ok
      ? {
          ...this._search,
          status: 'ready',
          results: Array.isArray(outcome.reply?.models)
            ? outcome.reply.models
            : [],
          error: null
        }
      : { ...this._search, status: 'error', error: outcome.error };
    this.emit();
  }

  private async _load<T>(
    cache: Map<string, ILoadable<T>>,
    seqKey: string,
    key: string,
    fetch: () => Promise<T>
  ): Promise<void> {
    const seq = (this._loadSeq.get(seqKey) ?? 0) + 1;
    this._loadSeq.set(seqKey, seq);
    const previous = cache.get(key) ?? IDLE;
    cache.set(key, { ...previous, status: 'loading' });
    this.emit();
    let next: ILoadable<T>;
    try {
      next = { status: 'ready', value: await fetch(), error: null };
    } catch (error) {
      next = { ...previous, status: 'error', error: errorMessage(error) };
    }
    if (this._loadSeq.get(seqKey) === seq) {
      cache.set(key, next);
      this.emit();
    }
  }

  private _search: IModelSearch = {
    query: '',
    status: 'idle',
    results: [],
    error: null
  };
  private _selected: string | null = null;
  private _models = new Map<string, ILoadable<IRegisteredModelDetails>>();
  private _versions = new Map<string, ILoadable<IModelVersionDetails>>();
  private _reports = new Map<string, ILoadable<IReportSummary[]>>();
  private _picks = new Map<string, string[]>();
  private _loadSeq = new Map<string, number>();
  private _expanded = new Set<string>();
  private _deployments: ILoadable<IDeployment[]> = IDLE;
  private _deploymentsSeq = 0;
  private _deploymentsPoll: Poll;
  private _polling = false;
}

/**
 * A namespace for `ModelsModel` statics.
 */
export namespace ModelsModel {
  /**
   * Constructor options (the search delay defaults to 200 ms).
   */
  export interface IOptions extends RemoteModel.IOptions {
    /** Milliseconds between deployment polls while one is deploying. */
    pollInterval?: number;
  }
}
