// What a client received, as the differential fuzzer compares it: the bytes cut into
// responses, each reduced to what may not legitimately differ between the proxy's two
// paths. Only what the paths are allowed to write differently is left out: Date, the
// connection-management headers each writer adds on its own (Connection: keep-alive,
// Keep-Alive), header order and the case of header names. Everything else stays,
// bodies byte for byte; bytes that do not parse as a response are kept raw, so a
// stray body or a second response after HEAD shows up as a difference.

/** One response, canonical: status, sorted headers, body; or the raw rest of the stream. */
export type ViewedResponse = { status: number; headers: string[]; close: boolean; body: string } | { unparsed: string };

export interface ClientView {
  responses: ViewedResponse[];
  /** The proxy closed the connection (rather than the client, at the end of the case). */
  closedByProxy: boolean;
}

/** Headers each writer sets on its own: not part of what the client is told. */
const IGNORED = new Set(['date', 'keep-alive', 'connection']);
const HEAD_END = '\r\n\r\n';

interface Head {
  status: number;
  headers: Map<string, string[]>;
  length: number;
}

function parseHead(text: string, at: number): Head | undefined {
  const end = text.indexOf(HEAD_END, at);
  if (end < 0) return undefined;
  const lines = text.slice(at, end).split('\r\n');
  const statusLine = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
  if (!statusLine) return undefined;
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return { status: Number(statusLine[1]), headers, length: end + HEAD_END.length - at };
}

/** The end of a chunked body starting at `at`, or undefined when it is not one. */
function chunkedEnd(text: string, at: number): { end: number; body: string } | undefined {
  let body = '';
  for (let chunks = 0; chunks < 10_000; chunks++) {
    const lineEnd = text.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = /^([0-9a-fA-F]+)(;.*)?$/.exec(text.slice(at, lineEnd));
    if (!size) return undefined;
    const length = parseInt(size[1] ?? '', 16);
    if (length === 0) {
      const trailerEnd =
        text.indexOf('\r\n', lineEnd + 2) === lineEnd + 2 ? lineEnd + 4 : text.indexOf(HEAD_END, lineEnd) + 4;
      return trailerEnd < 4 ? undefined : { end: trailerEnd, body };
    }
    const dataEnd = lineEnd + 2 + length;
    if (text.slice(dataEnd, dataEnd + 2) !== '\r\n') return undefined;
    body += text.slice(lineEnd + 2, dataEnd);
    at = dataEnd + 2;
  }
  return undefined;
}

/**
 * An answer to HEAD: the backend says so (x-echo-method), or, for the proxy's own
 * answers, nothing follows the head or the next status line does. No body the backend
 * or the proxy writes starts with a status line, so a body sent after all still shows.
 */
function answersHead(text: string, at: number, head: Head): boolean {
  if (head.headers.get('x-echo-method')?.[0] === 'HEAD') return true;
  return at === text.length || text.startsWith('HTTP/1.', at);
}

/** Where the body of a response ends, read as a client that knows nothing of the request would. */
function bodyOf(text: string, at: number, head: Head): { end: number; body: string } | undefined {
  if (head.status < 200 || head.status === 204 || head.status === 304 || answersHead(text, at, head))
    return { end: at, body: '' };
  const encoding = head.headers.get('transfer-encoding');
  if (encoding) return encoding.join(',').toLowerCase() === 'chunked' ? chunkedEnd(text, at) : undefined;
  const lengths = head.headers.get('content-length');
  if (!lengths) return { end: text.length, body: text.slice(at) };
  if (lengths.length !== 1 || !/^\d+$/.test(lengths[0] ?? '')) return undefined;
  const end = at + Number(lengths[0]);
  return end > text.length ? undefined : { end, body: text.slice(at, end) };
}

function canonicalHeaders(head: Head): string[] {
  const lines: string[] = [];
  for (const [name, values] of head.headers) {
    if (!IGNORED.has(name)) for (const value of values) lines.push(`${name}: ${value}`);
  }
  return lines.sort();
}

function closes(head: Head): boolean {
  return (head.headers.get('connection') ?? []).some((value) => /(^|,)\s*close\s*(,|$)/i.test(value));
}

/** Cuts the received bytes (latin1) into canonical responses. */
export function viewResponses(received: string): ViewedResponse[] {
  const responses: ViewedResponse[] = [];
  let at = 0;
  while (at < received.length) {
    const head = parseHead(received, at);
    const body = head && bodyOf(received, at + head.length, head);
    if (!head || !body) {
      responses.push({ unparsed: received.slice(at) });
      break;
    }
    responses.push({ status: head.status, headers: canonicalHeaders(head), close: closes(head), body: body.body });
    at = body.end;
  }
  return responses;
}
