import {
  IDLE,
  type ILoadable,
  RemoteModel,
  segment
} from '../common/remotemodel';
import { errorMessage } from '../common/api';
import { type IPipelineRun } from '../tokens';

// ---- Lineage REST payloads (`{baseUrl}mlplat/api/lineage/...`) -------------

/**
 * A run that read (`training`) or wrote (`output`) a table.
 */
export interface ILineageRun {
  run_id: string;
  experiment_id: string;
  name: string;
  /** `training` or `output` (newer servers may add contexts). */
  context: string;
  digest: string;
}

/**
 * A model version registered from a run that read the table.
 */
export interface ILineageVersion {
  model: string;
  version: string;
  run_id: string;
  /** Digest of the table the run read. */
  digest: string;
}

/**
 * A deployment of the caller serving one of those versions.
 */
export interface ILineageDeployment {
  name: string;
  model: string;
  version: string;
  endpoint: string;
}

/**
 * A deployed version trained on the table, stale when trained on another
 * digest than the table's current one.
 */
export interface IImpact {
  deployment: string;
  model: string;
  version: string;
  trained_digest: string;
  current_digest: string | null;
  stale: boolean;
  /** The pipeline that retrains it, if any. */
  pipeline: string | null;
}

/**
 * Payload of `GET lineage/tables/<db.table>`.
 */
export interface ITableLineage {
  table: string;
  /** The table's digest now; `null` when Spark cannot say. */
  digest: string | null;
  used_by: {
    runs: ILineageRun[];
    versions: ILineageVersion[];
    deployments: ILineageDeployment[];
    pipelines: { name: string }[];
  };
  impact: IImpact[];
}

/**
 * A table a model version's run read or wrote.
 */
export interface ILineageTable {
  table: string;
  /** The digest the run read (or wrote). */
  digest: string;
  /** Trained-on tables only: the table's digest now, `null` when unknown. */
  current_digest?: string | null;
  stale?: boolean;
  schema: { name: string; type: string }[];
}

/**
 * Payload of `GET lineage/models/<name>/versions/<version>`.
 */
export interface IVersionLineage {
  model: string;
  version: string;
  run_id: string;
  trained_on: ILineageTable[];
  outputs: ILineageTable[];
}

/**
 * The lineage of tables and model versions, loaded on demand and cached
 * until reloaded (both panels share one).
 */
export class LineageModel extends RemoteModel {
  constructor(options: RemoteModel.IOptions = {}) {
    super(options, 0);
  }

  /**
   * Who used a table (`db.table`) and the impact on its deployments.
   */
  table(name: string): ILoadable<ITableLineage> {
    return this._tables.get(name) ?? IDLE;
  }

  /**
   * What a model version was trained on.
   */
  version(model: string, version: string): ILoadable<IVersionLineage> {
    return this._versions.get(versionKey(model, version)) ?? IDLE;
  }

  /**
   * Fetch a table's lineage, unless already there (or `force`).
   */
  loadTable(name: string, force = false): Promise<void> {
    return this._load(this._tables, name, force, () =>
      this.request<ITableLineage>(`lineage/tables/${segment(name)}`)
    );
  }

  /**
   * Fetch a model version's lineage, unless already there (or `force`).
   */
  loadVersion(model: string, version: string, force = false): Promise<void> {
    return this._load(this._versions, versionKey(model, version), force, () =>
      this.request<IVersionLineage>(
        `lineage/models/${segment(model)}/versions/${segment(version)}`
      )
    );
  }

  /**
   * Run a (retraining) pipeline now.
   *
   * @throws The server's error (e.g. Airflow not reachable).
   */
  retrain(pipeline: string): Promise<IPipelineRun> {
    return this.request<IPipelineRun>(`pipelines/${segment(pipeline)}/runs`, {
      method: 'POST'
    });
  }

  protected runSearch(): Promise<void> {
    return Promise.resolve(); // nothing to search: lineage is looked up
  }

  private async _load<T>(
    cache: Map<string, ILoadable<T>>,
    key: string,
    force: boolean,
    fetch: () => Promise<T>
  ): Promise<void> {
    const current = cache.get(key) ?? IDLE;
    if (
      current.status === 'loading' ||
      (current.status === 'ready' && !force)
    ) {
      return;
    }
    cache.set(key, { status: 'loading', value: current.value, error: null });
    this.emit();
    let next: ILoadable<T>;
    try {
      next = { status: 'ready', value: await fetch(), error: null };
    } catch (error) {
      next = {
        status: 'error',
        value: current.value,
        error: errorMessage(error)
      };
    }
    cache.set(key, next);
    this.emit();
  }

  private _tables = new Map<string, ILoadable<ITableLineage>>();
  private _versions = new Map<string, ILoadable<IVersionLineage>>();
}

function versionKey(model: string, version: string): string {
  return JSON.stringify([model, version]);
}
