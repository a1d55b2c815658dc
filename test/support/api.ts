import { authHeader, type ApiEndpoint } from './luma.js';

// Luma's HTTP API with fetch, the token added from the endpoint (see apiEndpoint in
// luma.ts), for tests and benches that send many requests or odd bodies and want the
// status, the text and the JSON at once.

export interface ApiAnswer {
  status: number;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
  text: string;
}

export interface ApiCallOptions {
  body?: unknown;
  /** Sent as is (a string or bytes) instead of JSON; give its content-type in headers. */
  rawBody?: string | Uint8Array;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export async function apiCall(api: ApiEndpoint, method: string, urlPath: string, options: ApiCallOptions = {}): Promise<ApiAnswer> {
  const headers: Record<string, string> = { ...options.headers, ...authHeader(api) };
  let body: string | Uint8Array | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(new URL(urlPath, api.server), {
    method,
    headers,
    ...(body !== undefined ? { body } : {}),
    signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}
