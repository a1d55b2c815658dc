import { connectionMayRemove } from './framing-policy.js';

// Headers that describe one connection, not the message: a proxy never passes them on
// (RFC 9110 §7.6.1), nor the headers a Connection header names, save the framing ones
// (framing-policy.ts). Shared by both forwarding paths so that they strip exactly the same set.

export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * The headers one or more Connection header values make hop-by-hop: their lower-cased
 * tokens, less Content-Length, Transfer-Encoding and Host, which are never removed for it.
 */
export function connectionNamed(value: string | readonly string[] | undefined, into = new Set<string>()): Set<string> {
  if (value === undefined) return into;
  for (const part of typeof value === 'string' ? [value] : value) {
    for (const token of part.split(',')) {
      const trimmed = token.trim().toLowerCase();
      if (trimmed && connectionMayRemove(trimmed)) into.add(trimmed);
    }
  }
  return into;
}

function latin1(value: string | Buffer | undefined): string {
  return value === undefined ? '' : typeof value === 'string' ? value : value.toString('latin1');
}

/**
 * Raw headers (name, value, name, value...) as a flat list of strings without the
 * hop-by-hop ones and those Connection names; repeated headers such as Set-Cookie stay apart.
 */
export function rawWithoutHopByHop(raw: readonly (string | Buffer)[]): string[] {
  const named = new Set<string>();
  for (let index = 0; index + 1 < raw.length; index += 2) {
    if (latin1(raw[index]).toLowerCase() === 'connection') connectionNamed(latin1(raw[index + 1]), named);
  }
  const headers: string[] = [];
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const name = latin1(raw[index]);
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named.has(lower)) continue;
    headers.push(name, latin1(raw[index + 1]));
  }
  return headers;
}
