// The compat routes take the API token as `?token=` too (src/compat/auth.ts), where a
// browser cannot set a header. Such a URL must neither be written to Luma's request log
// nor be forwarded to a container: these helpers find the parameter the way the query
// parser does (the key percent-decoded, `+` a space), so `?%74oken=` is found as well.

function decoded(part: string): string {
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '));
  } catch {
    return part;
  }
}

function isTokenKey(segment: string): boolean {
  const equals = segment.indexOf('=');
  return decoded(equals === -1 ? segment : segment.slice(0, equals)) === 'token';
}

function valueOf(segment: string): string {
  const equals = segment.indexOf('=');
  return equals === -1 ? '' : decoded(segment.slice(equals + 1));
}

/** Maps each `&`-separated segment of the URL's query; the path and fragment unchanged. */
function mapQuery(url: string, change: (segment: string) => string | undefined): string {
  const question = url.indexOf('?');
  if (question === -1) return url;
  const hash = url.indexOf('#', question);
  const query = url.slice(question + 1, hash === -1 ? undefined : hash);
  const kept = query
    .split('&')
    .map(change)
    .filter((segment): segment is string => segment !== undefined);
  const rest = hash === -1 ? '' : url.slice(hash);
  return kept.length === 0 ? `${url.slice(0, question)}${rest}` : `${url.slice(0, question)}?${kept.join('&')}${rest}`;
}

/** The URL as a log may show it: every `token` parameter's value replaced. */
export function redactQueryToken(url: string): string {
  if (!url.includes('?')) return url;
  return mapQuery(url, (segment) => (isTokenKey(segment) ? 'token=[redacted]' : segment));
}

/** The URL without the `token` parameters that carry `token` (a container's own `token=` stays). */
export function withoutQueryToken(url: string, token: string): string {
  if (!url.includes('?')) return url;
  return mapQuery(url, (segment) => (isTokenKey(segment) && valueOf(segment) === token ? undefined : segment));
}
