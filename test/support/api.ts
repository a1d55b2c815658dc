// The one place tests reach Luma's HTTP API directly (besides the CLI): when the API
// needs a token, it is added here.

export interface ApiAnswer<T> {
  status: number;
  body: T;
}

export async function callApi<T>(server: string, path: string, options: { method?: string; body?: unknown } = {}): Promise<ApiAnswer<T>> {
  const response = await fetch(`${server}${path}`, {
    method: options.method ?? 'GET',
    ...(options.body !== undefined ? { body: JSON.stringify(options.body), headers: { 'content-type': 'application/json' } } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
}
