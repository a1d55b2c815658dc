// The one way tests reach Luma's HTTP API with fetch (the CLI goes through runCli). When
// the API needs a token, it is added here and nowhere else.

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

export async function apiCall(server: string, method: string, urlPath: string, options: ApiCallOptions = {}): Promise<ApiAnswer> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | Uint8Array | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(new URL(urlPath, server), {
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
