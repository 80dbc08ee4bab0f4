import { Poll } from '@lumino/polling';

import { errorMessage } from '../common/api';
import {
  IDLE,
  type ILoadable,
  RemoteModel,
  segment
} from '../common/remotemodel';
import {
  type IPipeline,
  type IPipelineExported,
  type IPipelineExportRequest,
  type IPipelineRun,
  type IPipelineRunsResponse,
  type IPipelinesResponse
} from '../tokens';

/**
 * Run and task states that are still going to change.
 */
const ACTIVE_STATES = new Set([
  'queued',
  'running',
  'scheduled',
  'up_for_retry',
  'up_for_reschedule',
  'restarting',
  'deferred'
]);

/**
 * Whether a run (or one of its tasks) is still going.
 */
export function isActive(run: IPipelineRun | null | undefined): boolean {
  return (
    run !== null && run !== undefined && ACTIVE_STATES.has(run.state ?? '')
  );
}

/**
 * The task whose log the panel shows.
 */
export interface ILogTarget {
  dagId: string;
  runId: string;
  taskId: string;
}

/**
 * Key of a task's log in maps.
 */
export function logKey(target: ILogTarget): string {
  return JSON.stringify([target.dagId, target.runId, target.taskId]);
}

/**
 * Client of the `pipelines/*` REST API behind the Pipelines panel: the
 * caller's pipelines and import errors, the runs of the expanded pipelines,
 * trigger / pause / unpause, a failed task's log tail, and the export of
 * notebook code as a pipeline. A poll refreshes it while the panel is shown,
 * faster while a run is going.
 */
export class PipelinesModel extends RemoteModel {
  constructor(options: PipelinesModel.IOptions = {}) {
    // The "search" of the base class is the list refresh, debounced so that
    // several actions in a row reload once.
    super(options, options.refreshDelay ?? 300);
    this._idle = options.idleInterval ?? 10 * 1000;
    this._busy = options.busyInterval ?? 2 * 1000;
    this._poll = new Poll({
      auto: false,
      factory: async () => {
        await this.refresh();
        if (this._list.status === 'error') {
          throw new Error(this._list.error ?? ''); // back off
        }
      },
      frequency: { interval: this._idle, backoff: true, max: 60 * 1000 },
      name: 'jupyter-mlplat:pipelines',
      standby: 'when-hidden'
    });
  }

  /**
   * The pipelines and import errors.
   */
  get list(): ILoadable<IPipelinesResponse> {
    return this._list;
  }

  /**
   * The runs of a pipeline (newest first); `idle` until it is expanded.
   */
  runs(dagId: string): ILoadable<IPipelineRun[]> {
    return this._runs.get(dagId) ?? IDLE;
  }

  /**
   * Whether a pipeline's runs are shown.
   */
  isExpanded(dagId: string): boolean {
    return this._expanded.has(dagId);
  }

  /**
   * Whether an action on a pipeline is under way (its buttons are disabled).
   */
  isBusy(dagId: string): boolean {
    return this._pending.has(dagId);
  }

  /**
   * The run a search result opened (`dagId/runId`), marked in the list.
   */
  get markedRun(): string {
    return this._markedRun;
  }

  /**
   * Expand a pipeline and mark one of its runs (a search result).
   */
  async showRun(dagId: string, runId: string): Promise<void> {
    this._markedRun = `${dagId}/${runId}`;
    if (!this._expanded.has(dagId)) {
      this._expanded.add(dagId);
    }
    this.emit();
    await this.loadRuns(dagId);
  }

  /**
   * The task whose log is shown, or `null`.
   */
  get logTarget(): ILogTarget | null {
    return this._logTarget;
  }

  /**
   * The log tail of the shown task.
   */
  get log(): ILoadable<string> {
    return this._logTarget
      ? (this._logs.get(logKey(this._logTarget)) ?? IDLE)
      : IDLE;
  }

  /**
   * Whether a run of any shown pipeline is still going.
   */
  get hasActiveRun(): boolean {
    const pipelines = this._list.value?.pipelines ?? [];
    if (pipelines.some(p => isActive(p.last_run))) {
      return true;
    }
    for (const dagId of this._expanded) {
      if ((this.runs(dagId).value ?? []).some(isActive)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Poll while the panel is visible (faster while a run is going).
   */
  startPolling(): void {
    if (!this.isDisposed) {
      void this._poll.start();
    }
  }

  /**
   * Stop polling (the panel is hidden).
   */
  stopPolling(): void {
    void this._poll.stop();
  }

  /**
   * Reload the list and the runs of the expanded pipelines.
   */
  async refresh(): Promise<void> {
    await Promise.all([
      this._loadList(),
      ...[...this._expanded].map(dagId => this.loadRuns(dagId))
    ]);
    this._adjustPoll();
  }

  /**
   * Show or hide a pipeline's runs (loading them when shown).
   */
  toggle(dagId: string): void {
    if (this._expanded.has(dagId)) {
      this._expanded.delete(dagId);
    } else {
      this._expanded.add(dagId);
      void this.loadRuns(dagId);
    }
    this.emit();
  }

  /**
   * Fetch a pipeline's newest runs with their tasks.
   */
  async loadRuns(dagId: string): Promise<void> {
    const seq = (this._runsSeq.get(dagId) ?? 0) + 1;
    this._runsSeq.set(dagId, seq);
    const previous = this.runs(dagId);
    this._runs.set(dagId, { ...previous, status: 'loading' });
    this.emit();
    let next: ILoadable<IPipelineRun[]>;
    try {
      const reply = await this.request<IPipelineRunsResponse>(
        `pipelines/${segment(dagId)}/runs?limit=${RUNS_SHOWN}`
      );
      const runs = Array.isArray(reply?.runs) ? reply.runs : [];
      next = { status: 'ready', value: runs, error: null };
    } catch (error) {
      next = { ...previous, status: 'error', error: errorMessage(error) };
    }
    if (this._runsSeq.get(dagId) === seq) {
      this._runs.set(dagId, next);
      this.emit();
    }
  }

  /**
   * Start a run now; the pipeline is expanded to show it.
   *
   * @throws The server's error (e.g. Airflow not reachable).
   */
  async trigger(dagId: string): Promise<IPipelineRun> {
    const run = await this._act(dagId, () =>
      this.request<IPipelineRun>(`pipelines/${segment(dagId)}/runs`, {
        method: 'POST'
      })
    );
    this._runsSeq.set(dagId, (this._runsSeq.get(dagId) ?? 0) + 1);
    const runs = (this.runs(dagId).value ?? []).filter(
      r => r.run_id !== run.run_id
    );
    this._runs.set(dagId, {
      status: 'ready',
      value: [run, ...runs].slice(0, RUNS_SHOWN),
      error: null
    });
    this._expanded.add(dagId);
    this._replace(dagId, p => ({ ...p, last_run: run }));
    this._adjustPoll();
    return run;
  }

  /**
   * Pause or resume a pipeline's schedule.
   *
   * @throws The server's error.
   */
  async setPaused(dagId: string, paused: boolean): Promise<IPipeline> {
    const action = paused ? 'pause' : 'unpause';
    const pipeline = await this._act(dagId, () =>
      this.request<IPipeline>(`pipelines/${segment(dagId)}/${action}`, {
        method: 'POST'
      })
    );
    this._replace(dagId, () => pipeline);
    return pipeline;
  }

  /**
   * Show the log tail of a task (fetching it), or hide it (`null`).
   */
  showLog(target: ILogTarget | null): void {
    this._logTarget = target;
    this.emit();
    if (target !== null) {
      void this.loadLog(target);
    }
  }

  /**
   * Fetch the last lines of a task's log.
   */
  async loadLog(target: ILogTarget): Promise<void> {
    const key = logKey(target);
    const previous = this._logs.get(key) ?? IDLE;
    this._logs.set(key, { ...previous, status: 'loading' });
    this.emit();
    const path =
      `pipelines/${segment(target.dagId)}/runs/${segment(target.runId)}` +
      `/tasks/${segment(target.taskId)}/log?tail=${LOG_LINES}`;
    let next: ILoadable<string>;
    try {
      const reply = await this.request<{ log: string }>(path);
      next = { status: 'ready', value: reply?.log ?? '', error: null };
    } catch (error) {
      next = { ...previous, status: 'error', error: errorMessage(error) };
    }
    this._logs.set(key, next);
    this.emit();
  }

  /**
   * Write notebook code as a DAG file; the list reloads soon after (Airflow
   * parses the new file within seconds).
   *
   * @throws The server's error: a bad name or schedule, or Airflow's import
   *   error as `file:line: message`.
   */
  async exportPipeline(
    request: IPipelineExportRequest
  ): Promise<IPipelineExported> {
    const exported = await this.request<IPipelineExported>('pipelines', {
      method: 'POST',
      body: JSON.stringify(request)
    });
    this.debounceSearch();
    return exported;
  }

  override dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    super.dispose();
  }

  protected async runSearch(): Promise<void> {
    await this.refresh();
  }

  private async _loadList(): Promise<void> {
    const seq = ++this._listSeq;
    this._list = { ...this._list, status: 'loading' };
    this.emit();
    let next: ILoadable<IPipelinesResponse>;
    try {
      const reply = await this.request<IPipelinesResponse>('pipelines');
      const pipelines = Array.isArray(reply?.pipelines) ? reply.pipelines : [];
      pipelines.sort((a, b) => a.dag_id.localeCompare(b.dag_id));
      const importErrors = Array.isArray(reply?.import_errors)
        ? reply.import_errors
        : [];
      next = {
        status: 'ready',
        value: { pipelines, import_errors: importErrors },
        error: null
      };
    } catch (error) {
      next = { ...this._list, status: 'error', error: errorMessage(error) };
    }
    if (seq === this._listSeq) {
      this._list = next;
      this.emit();
    }
  }

  /**
   * Run an action on a pipeline: its buttons are disabled meanwhile.
   */
  private async _act<T>(dagId: string, action: () => Promise<T>): Promise<T> {
    this._pending.add(dagId);
    this.emit();
    try {
      return await action();
    } finally {
      this._pending.delete(dagId);
      this.emit();
    }
  }

  private _replace(dagId: string, update: (p: IPipeline) => IPipeline): void {
    const value = this._list.value;
    if (value === null) {
      return;
    }
    this._listSeq++; // a list fetched before the action is stale
    const pipelines = value.pipelines.map(p =>
      p.dag_id === dagId ? update(p) : p
    );
    this._list = {
      status: 'ready',
      value: { ...value, pipelines },
      error: null
    };
    this.emit();
  }

  /**
   * Poll faster while a run is going, slowly otherwise.
   */
  private _adjustPoll(): void {
    if (this.isDisposed) {
      return;
    }
    const interval = this.hasActiveRun ? this._busy : this._idle;
    if (this._poll.frequency.interval !== interval) {
      this._poll.frequency = { ...this._poll.frequency, interval };
      if (interval === this._busy && this._poll.state.phase !== 'stopped') {
        void this._poll.schedule({ interval, phase: 'started' });
      }
    }
  }

  private _list: ILoadable<IPipelinesResponse> = IDLE;
  private _listSeq = 0;
  private _runs = new Map<string, ILoadable<IPipelineRun[]>>();
  private _runsSeq = new Map<string, number>();
  private _expanded = new Set<string>();
  private _markedRun = '';
  private _pending = new Set<string>();
  private _logs = new Map<string, ILoadable<string>>();
  private _logTarget: ILogTarget | null = null;
  private _poll: Poll;
  private _idle: number;
  private _busy: number;
}

/**
 * Runs shown per pipeline.
 */
const RUNS_SHOWN = 5;

/**
 * Lines of a task's log shown in the panel.
 */
const LOG_LINES = 200;

/**
 * A namespace for `PipelinesModel` statics.
 */
export namespace PipelinesModel {
  /**
   * Constructor options.
   */
  export interface IOptions extends RemoteModel.IOptions {
    /** Milliseconds between refreshes while no run is going (10 s). */
    idleInterval?: number;
    /** Milliseconds between refreshes while a run is going (2 s). */
    busyInterval?: number;
    /** Milliseconds an action's follow-up reload waits for more actions. */
    refreshDelay?: number;
  }
}
