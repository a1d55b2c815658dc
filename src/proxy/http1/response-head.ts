import { HOP_BY_HOP } from '../hop-by-hop.js';
import { isFieldValueChar, readHeaderLine, type HeaderLine } from './chars.js';

// Parses a target's response head for the fast path and decides how its body is framed
// (RFC 9112 §6.3), so the proxy knows where the response ends and whether the upstream
// connection can serve another request. The body is relayed byte for byte, framing
// included, so Content-Length and Transfer-Encoding go to the client as the target sent
// them; the other hop-by-hop headers are left out. Anything malformed or ambiguous
// (Content-Length with Transfer-Encoding, several lengths, chunked not last, bad bytes) is
// `invalid`: the client gets a 502 rather than a guess.

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
  /** Status line (as HTTP/1.1) and kept header lines, each ending in CRLF; the blank line is not included. */
  forwardable: string;
  /** Bytes the head took, final blank line included. */
  length: number;
}

export type ResponseHeadResult = { kind: 'head'; head: ResponseHead } | { kind: 'incomplete' } | { kind: 'invalid'; reason: string };

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const CR = 13;
const LF = 10;
const SP = 32;
const MAX_LENGTH_DIGITS = 15;
const INCOMPLETE: ResponseHeadResult = { kind: 'incomplete' };
const NO_BODY: Framing = { kind: 'none' };
const CHUNKED: Framing = { kind: 'chunked' };
const UNTIL_CLOSE: Framing = { kind: 'close' };

function invalid(reason: string): ResponseHeadResult {
  return { kind: 'invalid', reason };
}

/** The timeout=N parameter of a Keep-Alive header, in seconds (read by hand: this runs for every response). */
function keepAliveTimeout(value: string): number | undefined {
  const lower = value.toLowerCase();
  const at = lower.indexOf('timeout=');
  if (at < 0 || (at > 0 && lower.charCodeAt(at - 1) !== SP && lower.charCodeAt(at - 1) !== 44 /* , */)) return undefined;
  let seconds = 0;
  let digits = 0;
  for (let index = at + 8; index < lower.length; index++) {
    const digit = lower.charCodeAt(index) - 48;
    if (!(digit >= 0 && digit <= 9)) break;
    seconds = seconds * 10 + digit;
    if (++digits > 6) return undefined;
  }
  return digits === 0 ? undefined : seconds;
}

/** Framing headers are passed on as sent; the rest of the hop-by-hop set is dropped. */
function isDropped(lowerName: string): boolean {
  return lowerName !== 'transfer-encoding' && HOP_BY_HOP.has(lowerName);
}

/**
 * Parses the response head at `start` in `buffer`, for a request made with `method`.
 * `maxHeadBytes` bounds it: a longer head is invalid.
 */
export function parseResponseHead(buffer: Buffer, start: number, method: string, maxHeadBytes: number): ResponseHeadResult {
  const end = buffer.indexOf(HEAD_END, start);
  if (end < 0) return buffer.length - start > maxHeadBytes ? invalid('response head too large') : INCOMPLETE;
  const length = end + HEAD_END.length - start;
  if (length > maxHeadBytes) return invalid('response head too large');
  const text = buffer.toString('latin1', start, end + 2);

  // Status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF.
  const minor = text.startsWith('HTTP/1.1 ') ? 1 : text.startsWith('HTTP/1.0 ') ? 0 : -1;
  if (minor < 0) return invalid('status line');
  let index = 9;
  let status = 0;
  for (const stop = index + 3; index < stop; index++) {
    const digit = text.charCodeAt(index) - 48;
    if (!(digit >= 0 && digit <= 9)) return invalid('status code');
    status = status * 10 + digit;
  }
  if (status < 100) return invalid('status code');
  if (text.charCodeAt(index) === SP) {
    index++;
    while (isFieldValueChar(text.charCodeAt(index))) index++;
  }
  if (text.charCodeAt(index) !== CR || text.charCodeAt(index + 1) !== LF) return invalid('status line');
  index += 2;
  let forwardable = `HTTP/1.1 ${text.slice(9, index)}`;

  let contentLength = -1;
  let transferEncoding: string | undefined;
  let close = minor === 0;
  let keepAliveSeconds: number | undefined;
  let named: Set<string> | undefined;
  const kept: number[] = [];
  const keptNames: string[] = [];
  const line: HeaderLine = { name: '', value: '', next: 0 };

  while (index < text.length) {
    const problem = readHeaderLine(text, index, line);
    if (problem) return invalid(problem);
    const { name, value } = line;
    const lineStart = index;
    index = line.next;

    const lower = name.toLowerCase();
    switch (lower) {
      case 'content-length': {
        if (contentLength >= 0) return invalid('several Content-Length headers');
        if (value.length === 0 || value.length > MAX_LENGTH_DIGITS) return invalid('Content-Length');
        for (let digit = 0; digit < value.length; digit++) {
          const char = value.charCodeAt(digit);
          if (char < 48 || char > 57) return invalid('Content-Length');
        }
        contentLength = Number(value);
        break;
      }
      case 'transfer-encoding':
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
        break;
      case 'connection':
        for (const part of value.split(',')) {
          const token = part.trim().toLowerCase();
          if (token === 'close') close = true;
          else if (token !== '' && token !== 'keep-alive') (named ??= new Set()).add(token);
        }
        break;
      case 'keep-alive':
        keepAliveSeconds = keepAliveTimeout(value);
        break;
    }
    if (!isDropped(lower)) {
      kept.push(lineStart, index);
      keptNames.push(lower);
    }
  }

  for (let line = 0; line < keptNames.length; line++) {
    const lower = keptNames[line] ?? '';
    // Headers the Connection header names are hop-by-hop, unless they frame the body.
    if (named?.has(lower) && lower !== 'content-length' && lower !== 'transfer-encoding') continue;
    forwardable += text.slice(kept[2 * line], kept[2 * line + 1]);
  }

  const informational = status < 200;
  if (status === 101) return invalid('101 Switching Protocols without an upgrade');
  if (transferEncoding !== undefined && contentLength >= 0) return invalid('both Content-Length and Transfer-Encoding');
  if (transferEncoding !== undefined && minor === 0) return invalid('Transfer-Encoding in an HTTP/1.0 response');
  let framing: Framing;
  // A HEAD answer may carry the framing headers of the GET it mirrors: it still has no body.
  if (informational || method === 'HEAD' || status === 204 || status === 304) framing = NO_BODY;
  else if (transferEncoding !== undefined) {
    const codings = transferEncoding.split(',').map((coding) => coding.trim().toLowerCase());
    const chunkedAt = codings.indexOf('chunked');
    if (chunkedAt >= 0 && chunkedAt !== codings.length - 1) return invalid('chunked is not the last transfer coding');
    framing = chunkedAt >= 0 ? CHUNKED : UNTIL_CLOSE;
  } else if (contentLength >= 0) framing = { kind: 'length', length: contentLength };
  else framing = UNTIL_CLOSE;

  return {
    kind: 'head',
    head: { status, informational, framing, reusable: !close && framing.kind !== 'close', keepAliveSeconds, forwardable, length },
  };
}
