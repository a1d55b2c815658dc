// The API's endpoints that answer without a token (src/api/auth.ts OPEN_PATHS): what a
// Prometheus target and a liveness probe reach. Everything else goes through apiFetch or
// runCli (support/luma.ts), which carry the token.

export type OpenPath = '/metrics' | '/healthz';

/** GETs an open endpoint without a token and returns its body; any answer but 200 throws. */
export async function openEndpoint(server: string, urlPath: OpenPath): Promise<string> {
  const response = await fetch(new URL(urlPath, server));
  const body = await response.text();
  if (response.status !== 200) throw new Error(`GET ${urlPath}: ${response.status} ${body}`);
  return body;
}
