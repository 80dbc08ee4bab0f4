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
  const { response, text } = await send(endPoint, init, settings, trans);
  const data = parse(text);
  if (typeof data === 'string') {
    throw new ServerConnection.ResponseError(
      response,
      trans.__('Invalid JSON response from %1', `${API_NAMESPACE}/${endPoint}`)
    );
  }
  return data as T;
}

/**
 * Like `requestAPI`, for a route answering text (e.g. an HTML page).
 *
 * @returns The body as text.
 * @throws Like `requestAPI`.
 */
export async function requestText(
  endPoint: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings(),
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): Promise<string> {
  return (await send(endPoint, init, settings, trans)).text;
}

/**
 * Send a request; throw the server's error message on a non-2xx status.
 */
async function send(
  endPoint: string,
  init: RequestInit,
  settings: ServerConnection.ISettings,
  trans: TranslationBundle
): Promise<{ response: Response; text: string }> {
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint);

  // Rejects with ServerConnection.NetworkError on connection failures.
  const response = await ServerConnection.makeRequest(url, init, settings);
  const text = await response.text();
  if (!response.ok) {
    const data = parse(text);
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
  return { response, text };
}

/**
 * The decoded JSON of a body (`undefined` when empty, the text when not JSON).
 */
function parse(text: string): unknown {
  if (text.length === 0) {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
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
