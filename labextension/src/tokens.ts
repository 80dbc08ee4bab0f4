import { Token } from '@lumino/coreutils';
import { type IDisposable } from '@lumino/disposable';
import { type ISignal } from '@lumino/signaling';

/**
 * The npm/extension package name (also the prefix of every plugin id).
 */
export const EXTENSION_ID = 'jupyter-mlplat';

/**
 * Plugin ids. A settings schema for a plugin lives in `schema/<suffix>.json`.
 */
export const PluginIDs = {
  status: `${EXTENSION_ID}:status`,
  statusBar: `${EXTENSION_ID}:status-bar`,
  mlflowUI: `${EXTENSION_ID}:mlflow-ui`,
  launcher: `${EXTENSION_ID}:launcher`
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
  refreshStatus: 'mlplat:refresh-status'
} as const;

/**
 * Launcher section and command palette category.
 */
export const CATEGORY = 'ML Platform';

/**
 * DOM id of the status side panel.
 */
export const STATUS_PANEL_ID = 'mlplat-status-panel';

/**
 * DOM id of the MLflow UI main-area widget.
 */
export const MLFLOW_WIDGET_ID = 'mlplat-mlflow-ui';

/**
 * Path (relative to the server base URL) of the REST API of the server extension.
 */
export const API_NAMESPACE = 'mlplat/api';

/**
 * Default path (relative to the server base URL) where the server extension
 * reverse-proxies the MLflow tracking UI.
 */
export const DEFAULT_MLFLOW_UI_PATH = 'mlplat/mlflow/';

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
