import { type IPlatformStatus } from '../tokens';

/**
 * Used only until the server's status says where it proxies the MLflow UI
 * (`tracking.ui_path`, the one source of that path).
 */
const FALLBACK_UI_PATH = 'mlplat/mlflow/';

/**
 * A relative URL path: the frame must stay on the Jupyter origin and base URL.
 */
const RELATIVE_PATH = /^[\w.~-][\w./~-]*$/;

/**
 * A run page of the MLflow UI, below its path.
 */
const RUN_ROUTE = /^#\/experiments\/[\w-]+\/runs\/[\w-]+$/;

/**
 * Where the lab's MLflow UI is proxied, relative to the Jupyter base URL and
 * ending with `/`, as the server's status payload says.
 */
export function mlflowUIPath(
  status: IPlatformStatus | null | undefined
): string {
  const uiPath = status?.tracking?.ui_path;
  const path =
    typeof uiPath === 'string' && RELATIVE_PATH.test(uiPath)
      ? uiPath
      : FALLBACK_UI_PATH;
  return path.endsWith('/') ? path : `${path}/`;
}

/**
 * Whether `uiPath` (relative to the Jupyter base URL, as the registry API
 * gives it for a run) is a run page of the lab's MLflow UI.
 */
export function isRunPage(
  uiPath: string,
  status: IPlatformStatus | null | undefined
): boolean {
  const base = mlflowUIPath(status);
  return uiPath.startsWith(base) && RUN_ROUTE.test(uiPath.slice(base.length));
}
