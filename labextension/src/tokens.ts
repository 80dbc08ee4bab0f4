import { Token } from '@lumino/coreutils';
import { type IDisposable } from '@lumino/disposable';
import { type ISignal } from '@lumino/signaling';

/**
 * The npm/extension package name (also the prefix of every plugin id).
 */
export const EXTENSION_ID = 'jupyter-mlplat';

/**
 * Translation domain of every user-visible string (`translator.load(...)`).
 */
export const TRANSLATION_DOMAIN = 'jupyter_mlplat';

/**
 * Plugin ids. A settings schema for a plugin lives in `schema/<suffix>.json`.
 */
export const PluginIDs = {
  status: `${EXTENSION_ID}:status`,
  statusBar: `${EXTENSION_ID}:status-bar`,
  mlflowUI: `${EXTENSION_ID}:mlflow-ui`,
  catalog: `${EXTENSION_ID}:catalog`,
  models: `${EXTENSION_ID}:models`,
  pipelines: `${EXTENSION_ID}:pipelines`,
  search: `${EXTENSION_ID}:search`
} as const;

/**
 * Command ids.
 */
export const CommandIDs = {
  /** Open (or reveal) the MLflow tracking UI in a main-area tab. */
  openMLflow: 'mlplat:open-mlflow',
  /** Reveal the "ML Platform" status side panel. */
  openStatus: 'mlplat:open-status',
  /** Re-fetch the platform status from the server. */
  refreshStatus: 'mlplat:refresh-status',
  /** Reveal the "Data Catalog" side panel. */
  openCatalog: 'mlplat:open-catalog',
  /**
   * Start (or join) the server's background catalog refresh, show its
   * progress, then reload the catalog tree.
   */
  refreshCatalog: 'mlplat:catalog-refresh',
  /**
   * Insert a `spark.table(...)` snippet for a table below the active cell of
   * the current notebook. Args: `database`, `table` (default: the table under
   * the context menu, else the selected one).
   */
  catalogInsertSnippet: 'mlplat:catalog-insert-snippet',
  /** Like `catalogInsertSnippet`, with a `spark.sql("SELECT ...")` snippet. */
  catalogInsertSQL: 'mlplat:catalog-insert-sql',
  /** Copy the qualified name (`db.table`) of a table to the clipboard. */
  catalogCopyName: 'mlplat:catalog-copy-name',
  /** Select a table in the catalog panel and show its details and preview. */
  catalogShowDetails: 'mlplat:catalog-show-details',
  /**
   * Reveal a table in the catalog panel (tree expanded, details and lineage
   * shown). Args: `table` (`db.table`), or `database` and `name`.
   */
  catalogOpenTable: 'mlplat:catalog-open-table',
  /** Reveal the "Models" side panel (registry search, versions, deployments). */
  openModels: 'mlplat:open-models',
  /**
   * Reveal a model in the models panel, with a version's details open.
   * Args: `model`, `version` (optional).
   */
  modelsOpenVersion: 'mlplat:models-open-version',
  /** Reload the models panel: search results, the open model, deployments. */
  refreshModels: 'mlplat:models-refresh',
  /** Reveal a deployment in the models panel's deployments. Args: `name`. */
  modelsOpenDeployment: 'mlplat:models-open-deployment',
  /** Reveal the "Pipelines" side panel (Airflow DAGs, runs, tasks). */
  openPipelines: 'mlplat:open-pipelines',
  /** Reload the pipelines panel. */
  refreshPipelines: 'mlplat:pipelines-refresh',
  /** Reveal a pipeline in the pipelines panel, its runs shown. Args: `name`. */
  pipelinesOpenPipeline: 'mlplat:pipelines-open-pipeline',
  /** Reveal the "Search" side panel and focus its search box. */
  openSearch: 'mlplat:open-search',
  /**
   * Open a search result where it lives (models, catalog, pipelines panels,
   * the MLflow UI or a report page). Args: `target` (a result's target).
   */
  searchOpenResult: 'mlplat:search-open-result',
  /** Open (or reveal) the Airflow UI in a main-area tab. */
  openAirflow: 'mlplat:open-airflow',
  /**
   * Write the current notebook's pipeline cells (tagged `pipeline`) as an
   * Airflow DAG file in the project's pipelines folder.
   */
  exportPipeline: 'mlplat:export-pipeline',
  /** Add or remove the `pipeline` tag of the selected cells. */
  togglePipelineCell: 'mlplat:toggle-pipeline-cell',
  /** Open an evaluation report in a main-area tab. Args: `id`. */
  openReport: 'mlplat:open-report',
  /**
   * Compare the reports of two versions of a model side by side. Args:
   * `model`, `versions` (two version numbers).
   */
  compareReports: 'mlplat:compare-reports'
} as const;

/**
 * DOM id of the status side panel.
 */
export const STATUS_PANEL_ID = 'mlplat-status-panel';

/**
 * DOM id of the data catalog side panel.
 */
export const CATALOG_PANEL_ID = 'mlplat-catalog-panel';

/**
 * DOM id of the models side panel.
 */
export const MODELS_PANEL_ID = 'mlplat-models-panel';

/**
 * DOM id of the search side panel.
 */
export const SEARCH_PANEL_ID = 'mlplat-search-panel';

/**
 * DOM id of the pipelines side panel.
 */
export const PIPELINES_PANEL_ID = 'mlplat-pipelines-panel';

/**
 * DOM id of the Airflow UI main-area widget.
 */
export const AIRFLOW_WIDGET_ID = 'mlplat-airflow-ui';

/**
 * DOM id of the MLflow UI main-area widget.
 */
export const MLFLOW_WIDGET_ID = 'mlplat-mlflow-ui';

/**
 * Path (relative to the server base URL) of the REST API of the server extension.
 */
export const API_NAMESPACE = 'mlplat/api';

/**
 * MLflow tracking configuration of the current session.
 */
export interface ITrackingStatus {
  /** Tracking URI the kernels log to, e.g. `http://127.0.0.1:5000`. */
  uri: string;
  /** Path, relative to the Jupyter base URL, where the MLflow UI is proxied. */
  ui_path: string;
  /** Whether the server could reach the tracking server. */
  reachable: boolean;
  /** Optional human-readable explanation of `reachable`, e.g. `not configured`. */
  detail?: string;
  /** Default experiment name new runs are logged to. */
  experiment: string;
  /** Whether `mlflow.autolog()` is enabled in kernels. */
  autolog: boolean;
  /** Whether MLflow asynchronous logging is enabled. */
  async_logging: boolean;
  /** Whether artifacts are uploaded/downloaded through the tracking server proxy. */
  artifact_proxy: boolean;
}

/**
 * Spark (Connect) configuration of the current session.
 */
export interface ISparkStatus {
  /** Spark mode, e.g. `local`, `connect`, `off`. */
  mode: string;
  /** Spark Connect endpoint, e.g. `sc://127.0.0.1:15002`. */
  endpoint: string;
  /** Last known state of the Spark endpoint, e.g. `unknown`, `up`, `down`. */
  state: string;
  /** Optional human-readable explanation of `state`. */
  detail?: string;
}

/**
 * Data catalog configuration.
 */
export interface ICatalogStatus {
  /** Catalog backend, e.g. `spark`. */
  backend: string;
}

/**
 * Model deployment configuration.
 */
export interface IDeployStatus {
  /** Deployment target, e.g. `local` or `kubernetes`. */
  target: string;
  /** Namespace deployments go to. */
  namespace: string;
}

/**
 * Payload of `GET {baseUrl}mlplat/api/status`.
 *
 * Servers may add more fields over time; unknown fields are ignored by this
 * front-end, and missing ones are rendered as "—".
 */
export interface IPlatformStatus {
  /** Version of the `jupyter-mlplat` Python package serving the request. */
  version: string;
  /** Name of the user the server runs for. */
  user: string;
  tracking: ITrackingStatus;
  spark: ISparkStatus;
  catalog: ICatalogStatus;
  deploy: IDeployStatus;
}

/**
 * Shared, observable platform status (provided by the status plugin).
 */
export interface IStatusModel {
  /** Last status successfully fetched, or `null`. */
  readonly status: IPlatformStatus | null;
  /** Error message of the last fetch, or `null` if it succeeded. */
  readonly error: string | null;
  /** Whether a fetch is in flight. */
  readonly loading: boolean;
  /** Time of the last completed fetch (success or failure). */
  readonly lastUpdated: Date | null;
  /** Warning shown when the server and front-end versions differ, or `null`. */
  readonly versionMismatch: string | null;
  /** Emitted whenever any of the above changes. */
  readonly changed: ISignal<IStatusModel, void>;
  /** Fetch the status now; concurrent calls share one request. */
  refresh(): Promise<void>;
  /**
   * Ask for periodic refreshes while `isActive()` returns true (and the
   * browser tab is visible). Dispose the result to stop.
   */
  watch(isActive: () => boolean): IDisposable;
}

/**
 * Token of the platform status model.
 */
export const IStatusModel = new Token<IStatusModel>(
  `${EXTENSION_ID}:IStatusModel`,
  'Observable ML platform status (MLflow tracking, Spark, catalog, deployment) fetched from the jupyter-mlplat server extension.'
);

// ---- Data catalog REST payloads (`{baseUrl}mlplat/api/catalog/...`) --------

/**
 * A database of the data catalog.
 */
export interface ICatalogDatabase {
  /** Database (schema) name. */
  name: string;
  /** Free-text description; may be empty. */
  comment?: string | null;
  /** Number of tables and views, when the server knows it. */
  table_count?: number | null;
}

/**
 * Payload of `GET catalog/databases`.
 */
export interface ICatalogDatabasesResponse {
  databases: ICatalogDatabase[];
}

/**
 * A table (or view) of the data catalog.
 */
export interface ICatalogTable {
  /** Database the table belongs to. */
  database: string;
  /** Table name (without the database). */
  name: string;
  /** Free-text description; may be empty. */
  comment?: string | null;
  /** Table type, e.g. `MANAGED`, `EXTERNAL`, `VIEW`, `TEMPORARY`. */
  type?: string | null;
}

/**
 * Payload of `GET catalog/databases/<db>/tables`.
 */
export interface ICatalogTablesResponse {
  database: string;
  tables: ICatalogTable[];
}

/**
 * How a search hit matched the query.
 */
export type CatalogMatchKind = 'name' | 'column' | 'comment' | 'fuzzy';

/**
 * A hit of `GET catalog/search`.
 */
export interface ICatalogSearchResult extends ICatalogTable {
  /** What matched (newer servers may add kinds; they are shown as-is). */
  match: CatalogMatchKind;
  /** Relevance, higher is better (results come sorted). */
  score: number;
  /** Matching column when `match` is `column`, else empty. */
  column?: string | null;
}

/**
 * Payload of `GET catalog/search?q=<text>&limit=<n>`.
 */
export interface ICatalogSearchResponse {
  /** The query the results are for. */
  query: string;
  results: ICatalogSearchResult[];
  /** Server-side search time in milliseconds. */
  took_ms?: number;
}

/**
 * A column of a table, from `GET catalog/tables/<db>/<table>`.
 */
export interface ICatalogColumn {
  name: string;
  /** Spark SQL type, e.g. `double`, `array<string>`. */
  type: string;
  nullable?: boolean | null;
  comment?: string | null;
  /** Whether the table is partitioned by this column. */
  partition?: boolean | null;
}

/**
 * Payload of `GET catalog/tables/<db>/<table>` (describe).
 */
export interface ICatalogTableDetails {
  database: string;
  name: string;
  /** `db.table`. */
  qualified_name?: string;
  comment?: string | null;
  type?: string | null;
  /** Storage format, e.g. `parquet`, `delta`. */
  format?: string | null;
  /** Storage location URI. */
  location?: string | null;
  /** Row count from the table statistics, `null` when unknown. */
  row_count?: number | null;
  partition_columns?: string[] | null;
  columns: ICatalogColumn[];
}

/**
 * A column of a data preview.
 */
export interface ICatalogPreviewColumn {
  name: string;
  type?: string | null;
}

/**
 * Payload of `GET catalog/tables/<db>/<table>/preview?limit=<n>`.
 */
export interface ICatalogPreview {
  columns: ICatalogPreviewColumn[];
  /** Row-major JSON values; `null` for SQL NULL. */
  rows: unknown[][];
  /** Row limit that was applied. */
  limit: number;
  /** Whether the table has more rows than returned. */
  truncated?: boolean;
}

/**
 * Lifecycle of the server's background catalog refresh.
 */
export type CatalogRefreshState = 'idle' | 'running' | 'done' | 'failed';

/**
 * The server's catalog refresh job: `POST catalog/refresh` starts one (or
 * joins the running one) and answers 202 with it, `GET catalog/refresh`
 * tells how far it is.
 */
export interface ICatalogRefreshJob {
  state: CatalogRefreshState;
  /** The one database refreshed, `null` for all. */
  database?: string | null;
  databases_done: number;
  databases_total: number;
  /** Tables whose columns were checked, of the tables listed so far. */
  tables_done: number;
  tables_total: number;
  /** 0..1 (listing the databases is the first half). */
  progress: number;
  /** The current step, the summary when done, the error when failed. */
  message: string;
  /** Epoch seconds. */
  started: number | null;
  finished: number | null;
  /** Set when done. */
  result?: {
    databases: number;
    tables: number;
    described?: number;
    took_ms?: number;
  } | null;
}

// ---- Model registry REST payloads (`{baseUrl}mlplat/api/models/...`) -------

/**
 * A registered model, from `GET models?q=<text>&limit=<n>`.
 */
export interface IRegisteredModel {
  name: string;
  description: string;
  tags: Record<string, string>;
  /** Alias → version number. */
  aliases: Record<string, string>;
  /** Highest version number, `null` when the model has no version yet. */
  latest_version: string | null;
  /** Epoch seconds. */
  created?: number | null;
  updated?: number | null;
  /** How a search hit matched (`name`, `tag`, `description`, `alias`). */
  match?: string;
}

/**
 * Payload of `GET models?q=<text>&limit=<n>`.
 */
export interface IModelsSearchResponse {
  query: string;
  models: IRegisteredModel[];
}

/**
 * A version of a registered model.
 */
export interface IModelVersion {
  version: string;
  aliases: string[];
  run_id: string;
  /** Registry source, e.g. `models:/m-<id>`. */
  source: string;
  /** `READY`, `PENDING_REGISTRATION`, `FAILED_REGISTRATION`. */
  status: string;
  created?: number | null;
  updated?: number | null;
  tags: Record<string, string>;
  description: string;
}

/**
 * Payload of `GET models/<name>`: the model and its versions, newest first.
 */
export interface IRegisteredModelDetails extends IRegisteredModel {
  versions: IModelVersion[];
}

/**
 * The run that produced a model version.
 */
export interface IRunSummary {
  id: string;
  name: string;
  experiment_id: string;
  status?: string;
  params: Record<string, string>;
  metrics: Record<string, number>;
  /** Where the lab's MLflow UI shows the run, relative to the Jupyter base URL. */
  ui_path: string;
  /** The pipeline run (Airflow DAG run and task) that produced it, if one did. */
  pipeline?: {
    dag_id: string;
    run_id: string;
    task_id: string;
    try_number: string;
  } | null;
}

/**
 * A data-quality check logged by the run (`%%mlp check`).
 */
export interface IQualityResult {
  name: string;
  /** `passed` or `failed` (other values are shown as-is). */
  status: string;
  success_ratio: number | null;
  failed_count: number | null;
}

/**
 * Payload of `GET models/<name>/versions/<version>`.
 */
export interface IModelVersionDetails extends IModelVersion {
  name: string;
  /** `null` when the version has no (readable) run. */
  run: IRunSummary | null;
  quality: IQualityResult[];
  /** Names of the caller's deployments serving this version. */
  deployments: string[];
  /** The version's latest evaluation report, `null` when it has none. */
  report?: { id: string; metrics: Record<string, number> } | null;
}

// ---- Evaluation reports REST payloads (`{baseUrl}mlplat/api/reports/...`) --

/**
 * How a metric of a report compares with the champion's (or another version's).
 */
export type Verdict = 'better' | 'worse' | 'same';

/**
 * One metric of a report against the champion evaluated on the same holdout.
 */
export interface IMetricDiff {
  metric: string;
  value: number | null;
  champion: number | null;
  delta: number | null;
  /** A `Verdict` (newer servers may add values; shown as-is). */
  verdict: string;
}

/**
 * The champion a report was compared with.
 */
export interface IChampionComparison {
  version: string;
  alias: string;
  report_id: string;
  metrics: Record<string, number>;
  diff: IMetricDiff[];
}

/**
 * A hit of `GET reports?q=<query>&limit=<n>`.
 */
export interface IReportSummary {
  id: string;
  model: string;
  version: string;
  /** Epoch seconds (or ISO 8601). */
  created: number | string;
  /** The holdout table. */
  table: string;
  /** Digest of the holdout the model was evaluated on. */
  digest: string;
  /** `classifier` or `regressor`. */
  model_type: string;
  metrics: Record<string, number>;
  /** The champion comparison in short, `null` when there was none. */
  champion: {
    version: string;
    alias: string;
    report_id: string;
    /** Overall: `better` when more metrics improved than got worse. */
    verdict: string;
    verdict_counts: Record<string, number>;
  } | null;
}

/**
 * Payload of `GET reports?q=<query>&limit=<n>`.
 */
export interface IReportsResponse {
  query: string;
  reports: IReportSummary[];
}

/**
 * A plot of a report: an inline PNG, or an artifact of the evaluation run.
 */
export interface IReportPlot {
  name: string;
  title?: string;
  png_base64?: string;
  /** Artifact path among the evaluation run's artifacts. */
  artifact?: string;
}

/**
 * Payload of `GET reports/<id>` (the version's `report.json`). A report's id
 * is the id of the MLflow run that evaluated the version.
 */
export interface IReport {
  id: string;
  created: number | string;
  model: { name: string; version: string; run_id: string; uri: string };
  model_type: string;
  holdout: {
    table: string;
    rows: number;
    digest: string;
    label: string;
  };
  metrics: Record<string, number>;
  plots: IReportPlot[];
  /** The training run's data-quality results. */
  quality: IQualityResult[];
  champion: IChampionComparison | null;
  /** Why there is no champion comparison. */
  champion_note?: string;
}

// ---- Deployments REST payloads (`{baseUrl}mlplat/api/deployments/...`) ------

/**
 * Lifecycle of a deployment.
 */
export type DeploymentState = 'deploying' | 'ready' | 'failed' | 'stopped';

/**
 * Deploy targets.
 */
export type DeployTarget = 'local' | 'kserve';

/**
 * A model version serving under a deployment, with its share of traffic.
 */
export interface IRevision {
  /** Percent of the traffic. */
  traffic: number;
  uri: string;
  name: string;
  version: string;
  source?: string;
  run_id?: string;
}

/**
 * A deployment (`Deployment.to_json` on the server).
 */
export interface IDeployment {
  name: string;
  owner: string;
  /** `local` or `kserve` (see `DeployTarget`). */
  target: string;
  /** `deploying`, `ready`, `failed` or `stopped` (see `DeploymentState`). */
  state: string;
  /** V2 inference base URL: `POST {endpoint}/v2/models/{name}/infer`. */
  endpoint: string;
  message: string;
  stable: IRevision;
  canary: IRevision | null;
  previous: IRevision | null;
  created: number;
  updated: number;
  details: {
    progress?: { step?: string; fraction?: number };
    /** KServe: `Knative` or `Standard`. */
    mode?: string;
    /** KServe: what a canary gets in that mode (`weighted` or `none`). */
    canary_routing?: string;
    [key: string]: unknown;
  };
}

/**
 * Payload of `GET deployments`.
 */
export interface IDeploymentsResponse {
  deployments: IDeployment[];
}

/**
 * Body of `POST deployments`.
 */
export interface IDeployRequest {
  /** `models:/<name>/<version>` or `models:/<name>@<alias>`. */
  model_uri: string;
  name?: string;
  target?: DeployTarget;
  /** Percent of traffic for the new version (1-99); omitted: full rollout. */
  canary?: number;
}

// ---- Pipelines REST payloads (`{baseUrl}mlplat/api/pipelines/...`) --------

/**
 * A task instance of a pipeline run. `state` is Airflow's (`queued`,
 * `running`, `success`, `failed`, `upstream_failed`, `up_for_retry`,
 * `skipped`, ...), `null` before the scheduler looked at it.
 */
export interface IPipelineTask {
  task_id: string;
  map_index?: number;
  state: string | null;
  try_number: number;
  /** ISO 8601. */
  start: string | null;
  end: string | null;
}

/**
 * A run of a pipeline (an Airflow DAG run), with its tasks.
 */
export interface IPipelineRun {
  run_id: string;
  /** `queued`, `running`, `success` or `failed`. */
  state: string | null;
  start: string | null;
  end: string | null;
  /** What started it: `rest_api`, `timetable`, `asset`, `ui`, ... */
  triggered_by: string;
  /** `manual`, `scheduled`, `asset_triggered`, `backfill`. */
  run_type?: string;
  tasks: IPipelineTask[];
}

/**
 * A pipeline (an Airflow DAG) of the caller.
 */
export interface IPipeline {
  dag_id: string;
  owner: string;
  /** Airflow's summary of the schedule (`@daily`, a cron, `Asset`), or `null`. */
  schedule: string | null;
  /** ISO 8601, `null` when nothing is scheduled. */
  next_run: string | null;
  paused: boolean;
  /** The DAG file, relative to the pipelines folder. */
  file: string;
  tags: string[];
  last_run: IPipelineRun | null;
}

/**
 * A DAG file Airflow could not import.
 */
export interface IPipelineImportError {
  file: string;
  line: number | null;
  message: string;
}

/**
 * Payload of `GET pipelines`.
 */
export interface IPipelinesResponse {
  pipelines: IPipeline[];
  import_errors: IPipelineImportError[];
}

/**
 * Payload of `GET pipelines/<dag_id>/runs?limit=<n>`.
 */
export interface IPipelineRunsResponse {
  runs: IPipelineRun[];
}

/**
 * Body of `POST pipelines` (write a DAG file from notebook code).
 */
export interface IPipelineExportRequest {
  /** DAG id and file name. */
  name: string;
  /** `@daily`, a cron expression, `table:<db>.<table>`, or `null` (on demand). */
  schedule: string | null;
  /** The notebook's pipeline cells: `@task` functions and the calls wiring them. */
  source: string;
  /** The notebook the code comes from (named in the DAG file). */
  notebook?: string;
}

/**
 * Payload of `POST pipelines` (201).
 */
export interface IPipelineExported {
  dag_id: string;
  owner: string;
  schedule: string | null;
  file: string;
  path: string;
}

/**
 * Where the lab opens a search result: a panel and the item in it.
 */
export interface ISearchTarget {
  /** `models`, `catalog`, `pipelines`, `mlflow` or `report`. */
  panel: string;
  /** Registered model name (models panel). */
  model?: string;
  /** Model version (models panel). */
  version?: string;
  /** Deployment name (models panel). */
  deployment?: string;
  /** Qualified table name `db.table` (catalog panel). */
  table?: string;
  /** Column of `table` (catalog panel). */
  column?: string;
  /** Pipeline (DAG id) (pipelines panel). */
  name?: string;
  /** One run of the pipeline (its Airflow run id; pipelines panel). */
  run?: string;
  /** Path below the Jupyter base URL (MLflow UI run page, report page). */
  path?: string;
  /** Report id (a run id). */
  report?: string;
}

/**
 * One search hit.
 */
export interface ISearchResult {
  kind: string;
  id: string;
  title: string;
  subtitle: string;
  target: ISearchTarget;
}

/**
 * The hits of one kind.
 */
export interface ISearchGroup {
  kind: string;
  label: string;
  results: ISearchResult[];
}

/**
 * `GET /mlplat/api/search` reply.
 */
export interface ISearchReply {
  query: string;
  groups: ISearchGroup[];
  total: number;
  /** Kinds left out (a backend not reachable) and why. */
  notes: string[];
  took_ms: number;
}
