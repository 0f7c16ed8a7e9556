import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** A refused or failed request to the server extension, with the message of its envelope. */
export class GilgameshRequestError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

/** `{base_url}gilgamesh/{endPoint}` through Jupyter's own connection (its token and XSRF cookie). */
export async function requestAPI<T>(endPoint: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'gilgamesh', endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new GilgameshRequestError(0, `the Jupyter server did not answer: ${error}`);
  }
  const text = await response.text();
  let data: any = text;
  if (text.length) {
    try {
      data = JSON.parse(text);
    } catch {
      // not JSON: the message below says so
    }
  }
  if (!response.ok) {
    const message =
      data?.error?.message ?? data?.message ?? `${response.status} ${response.statusText}`;
    throw new GilgameshRequestError(response.status, message);
  }
  return data as T;
}
