import { connectionMayRemove, responseHasBody } from '../framing-policy.js';
import { isFieldValueChar, isTokenChar } from './chars.js';

// Parses a target's response head for the fast path and decides how its body is framed
// (RFC 9112 §6.3), so the proxy knows where the response ends and whether the upstream
// connection can serve another request. The body is relayed byte for byte, framing
// included, so Content-Length and Transfer-Encoding go to the client as the target sent
// them; the other hop-by-hop headers are left out. Anything malformed or ambiguous
// (Content-Length with Transfer-Encoding, several lengths, chunked not last, bad bytes) is
// `invalid`: the client gets a 502 rather than a guess.
//
// This runs for every response, so it reads bytes, not a string: header names are
// recognised by comparing bytes, the head the client gets is copied from the target's
// bytes (copyForwardable) rather than assembled as text, and a string is made only of a
// Transfer-Encoding value or of a Connection header naming other headers.

/** How the end of the body is found. */
export type Framing =
  | { kind: 'none' } // HEAD, 204, 304: the head is the whole response
  | { kind: 'length'; length: number }
  | { kind: 'chunked' }
  | { kind: 'close' }; // read until the target closes the connection

export interface ResponseHead {
  status: number;
  /** 1xx: another head follows. */
  informational: boolean;
  framing: Framing;
  /** The target keeps the connection open for another request. */
  reusable: boolean;
  /** The target's Keep-Alive: timeout=N hint, in seconds. */
  keepAliveSeconds: number | undefined;
  /**
   * What the client gets of the head, as ranges of the parsed buffer (start, end, start,
   * end...): the status line after its version, then the kept header lines, each ending
   * in CRLF; copyForwardable() writes them after "HTTP/1.1 ". The blank line is not included.
   */
  forwardRanges: number[];
  /** Bytes copyForwardable() writes. */
  forwardableLength: number;
  /** Bytes the head took, final blank line included. */
  length: number;
}

export type ResponseHeadResult =
  { kind: 'head'; head: ResponseHead } | { kind: 'incomplete' } | { kind: 'invalid'; reason: string };

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const VERSION_PREFIX = Buffer.from('HTTP/1.', 'latin1');
/** What every forwarded status line starts with: the proxy speaks HTTP/1.1 to its clients. */
const FORWARDED_VERSION = Buffer.from('HTTP/1.1 ', 'latin1');
const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;
const COMMA = 44;
const NBSP = 0xa0;
const MAX_LENGTH_DIGITS = 15;
const INCOMPLETE: ResponseHeadResult = { kind: 'incomplete' };
const NO_BODY: Framing = { kind: 'none' };
const CHUNKED: Framing = { kind: 'chunked' };
const UNTIL_CLOSE: Framing = { kind: 'close' };

function invalid(reason: string): ResponseHeadResult {
  return { kind: 'invalid', reason };
}

/** The header names this parser acts on, as lower-case bytes. */
const NAMES = {
  contentLength: Buffer.from('content-length'),
  transferEncoding: Buffer.from('transfer-encoding'),
  connection: Buffer.from('connection'),
  keepAlive: Buffer.from('keep-alive'),
  // The rest of the hop-by-hop set (hop-by-hop.ts), dropped: Transfer-Encoding frames the body and is passed on.
  proxyAuthenticate: Buffer.from('proxy-authenticate'),
  proxyAuthorization: Buffer.from('proxy-authorization'),
  proxyConnection: Buffer.from('proxy-connection'),
  te: Buffer.from('te'),
  trailer: Buffer.from('trailer'),
  upgrade: Buffer.from('upgrade'),
} as const;
const CLOSE = Buffer.from('close');
const TIMEOUT_PARAMETER = Buffer.from('timeout=');

/** Whether `bytes` stand in `buffer` at `at`, exactly. */
function hasBytes(buffer: Buffer, at: number, bytes: Buffer): boolean {
  for (let index = 0; index < bytes.length; index++) if (buffer[at + index] !== bytes[index]) return false;
  return true;
}

/** Whether buffer[from, to) is `lower`, ignoring the case of ASCII letters. */
function isNamed(buffer: Buffer, from: number, to: number, lower: Buffer): boolean {
  if (to - from !== lower.length) return false;
  for (let index = 0; index < lower.length; index++) {
    const code = buffer[from + index] as number;
    if ((code >= 65 && code <= 90 ? code + 32 : code) !== lower[index]) return false;
  }
  return true;
}

type HeaderKind = 'content-length' | 'transfer-encoding' | 'connection' | 'keep-alive' | 'dropped' | 'other';

function headerKind(buffer: Buffer, from: number, to: number): HeaderKind {
  switch (to - from) {
    case 14:
      return isNamed(buffer, from, to, NAMES.contentLength) ? 'content-length' : 'other';
    case 17:
      return isNamed(buffer, from, to, NAMES.transferEncoding) ? 'transfer-encoding' : 'other';
    case 10:
      if (isNamed(buffer, from, to, NAMES.connection)) return 'connection';
      return isNamed(buffer, from, to, NAMES.keepAlive) ? 'keep-alive' : 'other';
    case 2:
      return isNamed(buffer, from, to, NAMES.te) ? 'dropped' : 'other';
    case 7:
      return isNamed(buffer, from, to, NAMES.trailer) || isNamed(buffer, from, to, NAMES.upgrade) ? 'dropped' : 'other';
    case 16:
      return isNamed(buffer, from, to, NAMES.proxyConnection) ? 'dropped' : 'other';
    case 18:
      return isNamed(buffer, from, to, NAMES.proxyAuthenticate) ? 'dropped' : 'other';
    case 19:
      return isNamed(buffer, from, to, NAMES.proxyAuthorization) ? 'dropped' : 'other';
    default:
      return 'other';
  }
}

/** What String.prototype.trim() removes from a header value's bytes read as Latin-1: SP, HTAB and NBSP. */
function isTrimmed(code: number): boolean {
  return code === SP || code === HTAB || code === NBSP;
}

/**
 * The timeout=N parameter of a Keep-Alive value (buffer[from, to)), in seconds: the first
 * "timeout=" (any case) at the start or after SP or a comma, then 1–6 digits.
 */
function keepAliveTimeout(buffer: Buffer, from: number, to: number): number | undefined {
  let at = -1;
  const last = to - TIMEOUT_PARAMETER.length;
  for (let index = from; index <= last; index++) {
    if (isNamed(buffer, index, index + TIMEOUT_PARAMETER.length, TIMEOUT_PARAMETER)) {
      at = index;
      break;
    }
  }
  if (at < 0 || (at > from && buffer[at - 1] !== SP && buffer[at - 1] !== COMMA)) return undefined;
  let seconds = 0;
  let digits = 0;
  for (let index = at + TIMEOUT_PARAMETER.length; index < to; index++) {
    const digit = (buffer[index] as number) - 48;
    if (!(digit >= 0 && digit <= 9)) break;
    seconds = seconds * 10 + digit;
    if (++digits > 6) return undefined;
  }
  return digits === 0 ? undefined : seconds;
}

/** What a Connection value (buffer[from, to)) says: whether it asks to close, and the other headers it names. */
function readConnection(
  buffer: Buffer,
  from: number,
  to: number,
  named: Set<string> | undefined,
): { close: boolean; named: Set<string> | undefined } {
  let close = false;
  let partStart = from;
  for (let index = from; index <= to; index++) {
    if (index < to && buffer[index] !== COMMA) continue;
    let tokenStart = partStart;
    let tokenEnd = index;
    while (tokenStart < tokenEnd && isTrimmed(buffer[tokenStart] as number)) tokenStart++;
    while (tokenEnd > tokenStart && isTrimmed(buffer[tokenEnd - 1] as number)) tokenEnd--;
    partStart = index + 1;
    if (tokenStart === tokenEnd) continue;
    if (isNamed(buffer, tokenStart, tokenEnd, CLOSE)) close = true;
    else if (!isNamed(buffer, tokenStart, tokenEnd, NAMES.keepAlive))
      (named ??= new Set()).add(buffer.toString('latin1', tokenStart, tokenEnd).toLowerCase());
  }
  return { close, named };
}

/**
 * Parses the response head at `start` in `buffer`, for a request made with `method`.
 * `maxHeadBytes` bounds it: a longer head is invalid.
 */
export function parseResponseHead(
  buffer: Buffer,
  start: number,
  method: string,
  maxHeadBytes: number,
): ResponseHeadResult {
  const end = buffer.indexOf(HEAD_END, start);
  if (end < 0) return buffer.length - start > maxHeadBytes ? invalid('response head too large') : INCOMPLETE;
  const length = end + HEAD_END.length - start;
  if (length > maxHeadBytes) return invalid('response head too large');
  /** The header lines end here: after the last one's CRLF, before the blank line. */
  const limit = end + 2;

  // Status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF.
  let minor = -1;
  if (limit - start >= 9 && hasBytes(buffer, start, VERSION_PREFIX) && buffer[start + 8] === SP) {
    const digit = buffer[start + 7];
    minor = digit === 49 ? 1 : digit === 48 ? 0 : -1;
  }
  if (minor < 0) return invalid('status line');
  let index = start + 9;
  let status = 0;
  for (const stop = index + 3; index < stop; index++) {
    const digit = index < limit ? (buffer[index] as number) - 48 : -1;
    if (!(digit >= 0 && digit <= 9)) return invalid('status code');
    status = status * 10 + digit;
  }
  if (status < 100) return invalid('status code');
  if (index < limit && buffer[index] === SP) {
    index++;
    while (index < limit && isFieldValueChar(buffer[index] as number)) index++;
  }
  if (index + 1 >= limit || buffer[index] !== CR || buffer[index + 1] !== LF) return invalid('status line');
  index += 2;
  const forwardRanges = [start + 9, index];

  let contentLength = -1;
  let transferEncoding: string | undefined;
  let close = minor === 0;
  let keepAliveSeconds: number | undefined;
  let named: Set<string> | undefined;
  /** Kept header lines: start, end of the name, end (after CRLF). */
  const kept: number[] = [];

  while (index < limit) {
    // name: token, then ':'
    const lineStart = index;
    while (index < limit && isTokenChar(buffer[index] as number)) index++;
    if (index === lineStart || index >= limit || buffer[index] !== COLON) return invalid('header name');
    const nameEnd = index;
    index++;
    // OWS, value, CRLF
    while (index < limit && (buffer[index] === SP || buffer[index] === HTAB)) index++;
    const valueStart = index;
    while (index < limit && isFieldValueChar(buffer[index] as number)) index++;
    if (index + 1 >= limit || buffer[index] !== CR || buffer[index + 1] !== LF) return invalid('header value');
    let valueEnd = index;
    while (valueEnd > valueStart && (buffer[valueEnd - 1] === SP || buffer[valueEnd - 1] === HTAB)) valueEnd--;
    index += 2;

    const kind = headerKind(buffer, lineStart, nameEnd);
    switch (kind) {
      case 'content-length': {
        if (contentLength >= 0) return invalid('several Content-Length headers');
        const digits = valueEnd - valueStart;
        if (digits === 0 || digits > MAX_LENGTH_DIGITS) return invalid('Content-Length');
        // As llhttp (undici) reads it: a tab after the digits makes the length invalid.
        for (let at = valueEnd; at < index - 2; at++) if (buffer[at] === HTAB) return invalid('Content-Length');
        let value = 0;
        for (let at = valueStart; at < valueEnd; at++) {
          const digit = (buffer[at] as number) - 48;
          if (!(digit >= 0 && digit <= 9)) return invalid('Content-Length');
          value = value * 10 + digit;
        }
        contentLength = value;
        break;
      }
      case 'transfer-encoding': {
        const value = buffer.toString('latin1', valueStart, valueEnd);
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
        break;
      }
      case 'connection': {
        const connection = readConnection(buffer, valueStart, valueEnd, named);
        if (connection.close) close = true;
        named = connection.named;
        break;
      }
      case 'keep-alive':
        keepAliveSeconds = keepAliveTimeout(buffer, valueStart, valueEnd);
        break;
      case 'dropped':
      case 'other':
        break;
    }
    if (kind !== 'connection' && kind !== 'keep-alive' && kind !== 'dropped') kept.push(lineStart, nameEnd, index);
  }

  for (let line = 0; line < kept.length; line += 3) {
    const lineStart = kept[line] as number;
    const nameEnd = kept[line + 1] as number;
    // Headers the Connection header names are hop-by-hop, unless they frame the body (framing-policy.ts).
    if (named) {
      const lower = buffer.toString('latin1', lineStart, nameEnd).toLowerCase();
      if (named.has(lower) && connectionMayRemove(lower)) continue;
    }
    // Adjacent lines make one range: usually the kept lines are one or two.
    const lineEnd = kept[line + 2] as number;
    if (forwardRanges[forwardRanges.length - 1] === lineStart) forwardRanges[forwardRanges.length - 1] = lineEnd;
    else forwardRanges.push(lineStart, lineEnd);
  }
  let forwardableLength = FORWARDED_VERSION.length;
  for (let range = 0; range < forwardRanges.length; range += 2)
    forwardableLength += (forwardRanges[range + 1] as number) - (forwardRanges[range] as number);

  const informational = status < 200;
  if (status === 101) return invalid('101 Switching Protocols without an upgrade');
  if (transferEncoding !== undefined && contentLength >= 0) return invalid('both Content-Length and Transfer-Encoding');
  if (transferEncoding !== undefined && minor === 0) return invalid('Transfer-Encoding in an HTTP/1.0 response');
  let framing: Framing;
  // A HEAD answer may carry the framing headers of the GET it mirrors: it still has no body.
  if (!responseHasBody(method, status)) framing = NO_BODY;
  else if (transferEncoding !== undefined) {
    const codings = transferEncoding.split(',').map((coding) => coding.trim().toLowerCase());
    const chunkedAt = codings.indexOf('chunked');
    if (chunkedAt >= 0 && chunkedAt !== codings.length - 1) return invalid('chunked is not the last transfer coding');
    framing = chunkedAt >= 0 ? CHUNKED : UNTIL_CLOSE;
  } else if (contentLength >= 0) framing = { kind: 'length', length: contentLength };
  else framing = UNTIL_CLOSE;

  return {
    kind: 'head',
    head: {
      status,
      informational,
      framing,
      reusable: !close && framing.kind !== 'close',
      keepAliveSeconds,
      forwardRanges,
      forwardableLength,
      length,
    },
  };
}

/**
 * Copies the head as the client gets it (the status line as HTTP/1.1 and the kept header
 * lines, without the blank line) from `source`, the buffer it was parsed from, into
 * `target` at `at`; returns where it ends.
 */
export function copyForwardable(head: ResponseHead, source: Buffer, target: Buffer, at: number): number {
  let offset = copyBytes(FORWARDED_VERSION, 0, FORWARDED_VERSION.length, target, at);
  const ranges = head.forwardRanges;
  for (let range = 0; range < ranges.length; range += 2)
    offset = copyBytes(source, ranges[range] as number, ranges[range + 1] as number, target, offset);
  return offset;
}

/** Below this, a loop copies faster than Buffer#copy (a call into C++ each). */
const SHORT_COPY_BYTES = 128;

/** Copies source[from, to) into `target` at `at`; returns where the copy ends. */
export function copyBytes(source: Buffer, from: number, to: number, target: Buffer, at: number): number {
  if (to - from >= SHORT_COPY_BYTES) return at + source.copy(target, at, from, to);
  for (let index = from; index < to; index++) target[at++] = source[index] as number;
  return at;
}

/** The head as the client gets it, as text (for 1xx heads, and tests). */
export function forwardableText(head: ResponseHead, source: Buffer): string {
  const target = Buffer.allocUnsafe(head.forwardableLength);
  copyForwardable(head, source, target, 0);
  return target.toString('latin1');
}
