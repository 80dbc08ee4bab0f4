import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import {
  nullTranslator,
  type TranslationBundle
} from '@jupyterlab/translation';

import { API_NAMESPACE, TRANSLATION_DOMAIN } from '../tokens';

/**
 * Call the jupyter-mlplat server extension REST API.
 *
 * @param endPoint Path below `{baseUrl}mlplat/api/`, e.g. `status`.
 * @param init Fetch options (method, body, ...).
 * @param settings Server connection settings (defaults to the page settings).
 * @param trans Translations of the errors this function writes itself.
 * @returns The decoded JSON body (or `undefined` for an empty body).
 * @throws {ServerConnection.NetworkError} when the server cannot be reached.
 * @throws {ServerConnection.ResponseError} on a non-2xx status; its `message`
 *   is the server's JSON `message` (jupyter-server error format) when present.
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings(),
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint);

  // Rejects with ServerConnection.NetworkError on connection failures.
  const response = await ServerConnection.makeRequest(url, init, settings);

  const text = await response.text();
  let data: unknown = undefined;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }

  if (!response.ok) {
    const fallback = trans
      .__(
        '%1 %2 failed: %3 %4',
        init.method ?? 'GET',
        `${API_NAMESPACE}/${endPoint}`,
        response.status,
        response.statusText
      )
      .trim();
    throw new ServerConnection.ResponseError(
      response,
      jsonField(data, 'message') ?? fallback,
      jsonField(data, 'traceback')
    );
  }

  if (typeof data === 'string') {
    throw new ServerConnection.ResponseError(
      response,
      trans.__('Invalid JSON response from %1', `${API_NAMESPACE}/${endPoint}`)
    );
  }
  return data as T;
}

/**
 * Message of any thrown value, for display.
 */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    return error.message || error.name;
  }
  return String(error);
}

/**
 * A non-empty string field of a decoded JSON object, if any.
 */
function jsonField(data: unknown, key: string): string | undefined {
  if (typeof data === 'object' && data !== null && key in data) {
    const value = (data as Record<string, unknown>)[key];
    if (typeof value === 'string' && value.length > 0) {
      return value;
    }
  }
  return undefined;
}
