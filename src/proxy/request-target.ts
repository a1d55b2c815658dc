import type { IncomingMessage } from 'node:http';
import { normalizeHost } from './route-table.js';

// Which host a request is for, decided the way RFC 9112 §3.2 asks of a strict server:
// exactly one Host header with a valid `host[:port]` value, or, for an absolute-form
// target (`GET http://host/path`), the target's own authority (§3.2.2: the Host header is
// then ignored). Anything else is a 400, never a route: a malformed Host must not reach
// a lookup (it would 404, or, with a stray port, even match) and an `ftp://` target must
// not reach an app.

export type RequestTarget =
  | { ok: true; host: string; authority: string; path: string; absolute: boolean }
  | { ok: false; reason: string; missingHost?: boolean };

// uri-host (reg-name or IP literal) with an optional port (RFC 3986 §3.2.2, RFC 9110 §7.2).
const AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::(\d{0,5}))?$/;
const ABSOLUTE_FORM = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/;

function hostHeaderLines(rawHeaders: readonly string[]): string[] {
  const values: string[] = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    if (rawHeaders[index]?.toLowerCase() === 'host') values.push(rawHeaders[index + 1] ?? '');
  }
  return values;
}

function checkAuthority(authority: string, where: string): RequestTarget | undefined {
  const match = AUTHORITY.exec(authority);
  if (!match) return { ok: false, reason: `${where} "${authority}" is not a valid host[:port]` };
  if (match[1] && Number(match[1]) > 65_535)
    return { ok: false, reason: `${where} "${authority}" has a port above 65535` };
  return undefined;
}

export function resolveRequestTarget(req: Pick<IncomingMessage, 'url' | 'rawHeaders'>): RequestTarget {
  const hosts = hostHeaderLines(req.rawHeaders);
  if (hosts.length > 1) return { ok: false, reason: 'the request has more than one Host header' };
  const url = req.url ?? '';
  const absolute = ABSOLUTE_FORM.exec(url);
  if (absolute) {
    const [, scheme = '', authority = '', rest = ''] = absolute;
    if (!/^https?$/i.test(scheme))
      return { ok: false, reason: `the request target's scheme "${scheme}" is not http or https` };
    const invalid = checkAuthority(authority, "the request target's authority");
    if (invalid) return invalid;
    const host = normalizeHost(authority);
    if (!host) return { ok: false, reason: "the request target's authority has no host" };
    const path = rest === '' ? '/' : rest.startsWith('/') ? rest : `/${rest}`;
    return { ok: true, host, authority, path, absolute: true };
  }
  if (!url.startsWith('/') && url !== '*')
    return { ok: false, reason: 'the request target is neither a path nor an absolute http URL' };
  const [value] = hosts;
  if (value === undefined || value.trim() === '')
    return { ok: false, reason: 'the request has no Host header, so it cannot be routed', missingHost: true };
  const authority = value.trim();
  const invalid = checkAuthority(authority, 'the Host header');
  if (invalid) return invalid;
  const host = normalizeHost(authority);
  if (!host) return { ok: false, reason: 'the Host header names no host', missingHost: true };
  return { ok: true, host, authority, path: url, absolute: false };
}

/** Host values remembered by resolveOriginForm(); past this many, it starts over. */
const HOST_CACHE_LIMIT = 1024;
type HostCheck = { ok: true; host: string; authority: string } | Extract<RequestTarget, { ok: false }>;
const hostChecks = new Map<string, HostCheck>();

/**
 * resolveRequestTarget() for an origin-form target (it starts with "/") and exactly one
 * Host header, which is all the fast path takes. The answer then depends on the Host value
 * alone, and clients send the same few values over and over: the last ones are remembered,
 * rather than checked with two regular expressions and normalised for every request.
 */
export function resolveOriginForm(path: string, hostValue: string): RequestTarget {
  let check = hostChecks.get(hostValue);
  if (!check) {
    const resolved = resolveRequestTarget({ url: '/', rawHeaders: ['host', hostValue] });
    check = resolved.ok ? { ok: true, host: resolved.host, authority: resolved.authority } : resolved;
    if (hostChecks.size >= HOST_CACHE_LIMIT) hostChecks.clear();
    hostChecks.set(hostValue, check);
  }
  return check.ok ? { ok: true, host: check.host, authority: check.authority, path, absolute: false } : check;
}

/**
 * Resolves the target and, for an absolute-form request, rewrites it to what the app
 * expects: an origin-form path and the target's authority as Host.
 */
export function routeableTarget(req: IncomingMessage): RequestTarget {
  const target = resolveRequestTarget(req);
  if (target.ok && target.absolute) {
    req.url = target.path;
    req.headers.host = target.authority;
  }
  return target;
}
