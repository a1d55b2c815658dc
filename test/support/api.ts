import { authHeader, type ApiEndpoint } from './luma.js';

// The API's endpoints that answer without a token (src/api/auth.ts OPEN_PATHS): what a
// Prometheus target and a liveness probe reach. Everything else goes through apiFetch or
// runCli (support/luma.ts), which carry the token, or apiCall below: fetch with the token
// for tests and benches that send many requests or odd bodies and want the status, the
// text and the JSON at once.

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

export async function apiCall(
  api: ApiEndpoint,
  method: string,
  urlPath: string,
  options: ApiCallOptions = {},
): Promise<ApiAnswer> {
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

export type OpenPath = '/metrics' | '/healthz';

/** GETs an open endpoint without a token and returns its body; any answer but 200 throws. */
export async function openEndpoint(server: string, urlPath: OpenPath): Promise<string> {
  const response = await fetch(new URL(urlPath, server));
  const body = await response.text();
  if (response.status !== 200) throw new Error(`GET ${urlPath}: ${response.status} ${body}`);
  return body;
}
