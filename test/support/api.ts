// The one place tests reach Luma's HTTP API by hand (the CLI goes through runCli): when
// the API needs a token, it is added here. /metrics and /healthz stay open, like a
// Prometheus target and a liveness probe need them to be: see openEndpoint.

/** A request to the API (`server` is its base URL, such as LumaProcess.server). */
export function apiFetch(server: string, urlPath: string, init: RequestInit = {}): Promise<Response> {
  return fetch(new URL(urlPath, server), init);
}

/** Endpoints that answer without a token. */
export const OPEN_ENDPOINTS = ['/metrics', '/healthz'] as const;

/** GETs an open endpoint (no token) and returns its body; any answer but 200 throws. */
export async function openEndpoint(server: string, urlPath: (typeof OPEN_ENDPOINTS)[number]): Promise<string> {
  const response = await fetch(new URL(urlPath, server));
  const body = await response.text();
  if (response.status !== 200) throw new Error(`GET ${urlPath}: ${response.status} ${body}`);
  return body;
}
