import { METHODS } from 'node:http';
import { connectionMayRemove } from '../framing-policy.js';
import { spellsAProxyHeader } from '../forwarded-headers.js';
import { HOP_BY_HOP } from '../hop-by-hop.js';
import { readHeaderLine, type HeaderLine } from './chars.js';

// A strict parser of plain HTTP/1.1 request heads, for the proxy's fast path. It accepts
// only the common, unambiguous shape: an origin-form GET-like request line, well-formed
// header lines, one Host, at most one Content-Length and no Transfer-Encoding. Anything
// else (chunked or conflicting framing, Upgrade, Expect, obs-fold, stray CR or LF, bytes
// outside the grammar, HTTP/1.0, oversized heads) is reported as `unusual`: the connection
// then goes to node:http, whose parser (llhttp) is strict and answers errors itself.
// Being strict here is what makes request smuggling impossible: a head this parser reads
// one way cannot be read another way by the fast path, because it never guesses.

export interface RequestHead {
  method: string;
  /** The request target, origin form (starts with "/"). */
  target: string;
  /** The Host header's value. */
  host: string;
  /** The body's length: 0 when the request has no Content-Length. */
  contentLength: number;
  /** The client asked to close the connection after this exchange (Connection: close). */
  close: boolean;
  /** The request line and the header lines to pass on, each ending in CRLF: hop-by-hop and X-Forwarded-* left out. */
  forwardable: string;
  /** X-Forwarded-* values the client sent (several joined with ", "), for a service that trusts them. */
  priorFor: string | undefined;
  priorProto: string | undefined;
  priorHost: string | undefined;
  /** The X-Request-Id the client sent (several joined with ", ", which is then not a usable id). */
  priorRequestId: string | undefined;
  /** Bytes the head took, final blank line included. */
  length: number;
}

export type RequestHeadResult =
  { kind: 'head'; head: RequestHead } | { kind: 'incomplete' } | { kind: 'unusual'; reason: string };

export const REQUEST_HEAD_LIMITS = {
  /** Header lines beyond this are unusual (node:http allows up to 2,000). */
  maxHeaders: 100,
  /** Content-Length digits: 15 keeps every value an exact JavaScript number. */
  maxLengthDigits: 15,
} as const;

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const HTAB = 9;
const SP = 32;
const SLASH = 47;
const HASH = 35;
const VERSION = 'HTTP/1.1\r\n';
const INCOMPLETE: RequestHeadResult = { kind: 'incomplete' };
/**
 * Methods the fast path forwards: those llhttp knows (node:http's METHODS), as the app's
 * parser is llhttp or as strict; any other would reach the app only to be refused there.
 * CONNECT changes what the connection carries: llhttp reads every byte after its head as a
 * tunnel, whatever its target's form; framed here as a plain request, what follows would be
 * read as further requests, and an app that tunnels would get the pooled upstream
 * connection's next visitors. node:http decides it.
 */
const FAST_METHODS: ReadonlySet<string> = new Set(METHODS.filter((method) => method !== 'CONNECT'));

function unusual(reason: string): RequestHeadResult {
  return { kind: 'unusual', reason };
}

function joined(previous: string | undefined, value: string): string {
  return previous === undefined ? value : `${previous}, ${value}`;
}

/** Headers the fast path never passes on as received: hop-by-hop, and the X-Forwarded-* and X-Request-Id it sets itself. */
function isReplaced(lowerName: string): boolean {
  return (
    HOP_BY_HOP.has(lowerName) ||
    lowerName === 'x-forwarded-for' ||
    lowerName === 'x-forwarded-proto' ||
    lowerName === 'x-forwarded-host' ||
    lowerName === 'x-request-id' ||
    spellsAProxyHeader(lowerName)
  );
}

/**
 * Parses the request head that starts at `start` in `buffer`. `maxHeadBytes` bounds the
 * head: a longer one is unusual (node:http then answers 431).
 */
export function parseRequestHead(buffer: Buffer, start: number, maxHeadBytes: number): RequestHeadResult {
  const end = buffer.indexOf(HEAD_END, start);
  if (end < 0) return buffer.length - start > maxHeadBytes ? unusual('head too large') : INCOMPLETE;
  const length = end + HEAD_END.length - start;
  if (length > maxHeadBytes) return unusual('head too large');
  // Latin-1 maps every byte to one character, so offsets in the text are offsets in bytes.
  const text = buffer.toString('latin1', start, end + 2);

  // Request line: METHOD SP origin-form SP HTTP/1.1 CRLF, single spaces.
  let index = 0;
  while (index < text.length) {
    const code = text.charCodeAt(index);
    if (code < 65 || code > 90) break; // A-Z: every registered method; others go to node:http
    index++;
  }
  if (index === 0 || text.charCodeAt(index) !== SP) return unusual('request line');
  const method = text.slice(0, index);
  if (!FAST_METHODS.has(method)) return unusual('method');
  const targetStart = ++index;
  if (text.charCodeAt(index) !== SLASH) return unusual('request target not in origin form');
  while (index < text.length) {
    const code = text.charCodeAt(index);
    if (code <= SP || code >= 127 || code === HASH) break;
    index++;
  }
  if (text.charCodeAt(index) !== SP) return unusual('request target');
  const target = text.slice(targetStart, index);
  index++;
  if (!text.startsWith(VERSION, index)) return unusual('not HTTP/1.1');
  index += VERSION.length;
  let forwardable = text.slice(0, index);

  let host: string | undefined;
  let hosts = 0;
  let contentLength = -1;
  let close = false;
  let named: Set<string> | undefined;
  let priorFor: string | undefined;
  let priorProto: string | undefined;
  let priorHost: string | undefined;
  let priorRequestId: string | undefined;
  /** Where each kept header line starts and ends, and its lower-cased name, in case Connection names it. */
  let keptLines: number[] | undefined;
  let keptNames: string[] | undefined;
  let headers = 0;
  const line: HeaderLine = { name: '', value: '', next: 0 };

  while (index < text.length) {
    if (++headers > REQUEST_HEAD_LIMITS.maxHeaders) return unusual('too many headers');
    const problem = readHeaderLine(text, index, line);
    if (problem) return unusual(problem);
    const { name, value } = line;
    const lineStart = index;
    index = line.next;

    const lower = name.toLowerCase();
    switch (lower) {
      case 'host':
        hosts++;
        host = value;
        break;
      case 'content-length': {
        if (contentLength >= 0) return unusual('several Content-Length headers');
        // llhttp refuses a tab after the digits (RFC 9110 allows it as OWS): such a line is its to judge.
        for (let at = lineStart; at < index; at++) if (text.charCodeAt(at) === HTAB) return unusual('Content-Length');
        // A leading zero is read as decimal by llhttp but not by every app: node:http (undici) forwards the plain number.
        if (
          value.length === 0 ||
          value.length > REQUEST_HEAD_LIMITS.maxLengthDigits ||
          (value.length > 1 && value.charCodeAt(0) === 48)
        )
          return unusual('Content-Length');
        for (let digit = 0; digit < value.length; digit++) {
          const char = value.charCodeAt(digit);
          if (char < 48 || char > 57) return unusual('Content-Length');
        }
        contentLength = Number(value);
        break;
      }
      case 'transfer-encoding':
        return unusual('Transfer-Encoding on a request');
      case 'upgrade':
        return unusual('Upgrade');
      case 'expect':
        return unusual('Expect');
      case 'connection':
        for (const part of value.split(',')) {
          const token = part.trim().toLowerCase();
          if (token === 'close') close = true;
          else if (token === 'upgrade') return unusual('Connection: upgrade');
          // Content-Length and Host stay whatever Connection says (framing-policy.ts): the
          // body is read by that length, so the app must read it by the same.
          else if (token !== '' && token !== 'keep-alive' && connectionMayRemove(token))
            (named ??= new Set()).add(token);
        }
        break;
      case 'x-forwarded-for':
        priorFor = joined(priorFor, value);
        break;
      case 'x-forwarded-proto':
        priorProto = joined(priorProto, value);
        break;
      case 'x-forwarded-host':
        priorHost = joined(priorHost, value);
        break;
      case 'x-request-id':
        priorRequestId = joined(priorRequestId, value);
        break;
    }
    if (!isReplaced(lower)) {
      (keptLines ??= []).push(lineStart, index);
      (keptNames ??= []).push(lower);
    }
  }
  if (hosts !== 1 || host === undefined) return unusual(hosts === 0 ? 'no Host' : 'several Host headers');

  if (keptLines && keptNames) forwardable += joinKept(text, keptLines, keptNames, named);
  return {
    kind: 'head',
    head: {
      method,
      target,
      host,
      contentLength: Math.max(contentLength, 0),
      close,
      forwardable,
      priorFor,
      priorProto,
      priorHost,
      priorRequestId,
      length,
    },
  };
}

/** The kept header lines, leaving out those the Connection header made hop-by-hop. */
function joinKept(text: string, lines: number[], names: string[], named: ReadonlySet<string> | undefined): string {
  let result = '';
  // Adjacent kept lines are sliced as one run: usually the whole block is one slice.
  let runStart = -1;
  let runEnd = -1;
  for (let line = 0; line < names.length; line++) {
    if (named?.has(names[line] ?? '')) continue;
    const start = lines[2 * line] ?? 0;
    const end = lines[2 * line + 1] ?? 0;
    if (start !== runEnd) {
      if (runStart >= 0) result += text.slice(runStart, runEnd);
      runStart = start;
    }
    runEnd = end;
  }
  if (runStart >= 0) result += text.slice(runStart, runEnd);
  return result;
}
