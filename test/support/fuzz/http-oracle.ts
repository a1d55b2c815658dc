import { isDeepStrictEqual } from 'node:util';
import type { ViewedResponse } from './http-client-view.js';
import type { RecordedRequest } from './http-recording-backend.js';
import type { Observation, ParsedRequest, Run, Transport } from './http-differential.js';
import type { StreamCase } from './http-streams.js';

// The differential fuzzer's verdict on one case: the fast path and node:http (llhttp)
// must give the app the same requests and the client the same responses, or the fast
// path must refuse: what it answered before is what node:http answered, nothing more
// reached the app, and its last answer is a 4xx that closes the connection.
//
// One difference is node:http's own and allowed: when llhttp fails on a pipelined request
// (or node:http drops a connection: a CONNECT nobody listens for)
// while earlier ones are still being answered, node:http writes its 400 at once and cuts
// off the requests it had handed to routing, each before or after it reached the app,
// as timing has it (on both proxies: the fast path hands such streams over too, though
// only after answering what it parsed itself). When both clients end with that same
// 4xx (or the fast path's closed after Connection: close, where llhttp fails on the bytes
// that follow, or closed without that 4xx: over TLS node:http's 400 to a stream the fast
// path handed over is sometimes lost to the close), the answers before it need only agree
// as far as both go, and every request that
// reached the app through the fast path's proxy must be one llhttp parsed on the
// node:http side (the same method and path): nothing was smuggled.

export type Verdict =
  { kind: 'same' } | { kind: 'refused' } | { kind: 'parse-error-race' } | { kind: 'divergence'; report: string };

function isPrefix<T>(short: readonly T[], long: readonly T[]): boolean {
  return short.length <= long.length && short.every((item, index) => isDeepStrictEqual(item, long[index]));
}

function refusedCleanly(fast: Observation, node: Observation): boolean {
  const responses = fast.client.responses;
  if (!isClosingClientError(responses.at(-1)) || !fast.client.closedByProxy) return false;
  return (
    isPrefix(responses.slice(0, -1), node.client.responses) && missingFrom(fast.backend, node.backend) !== undefined
  );
}

function isClosingClientError(response: ViewedResponse | undefined): boolean {
  return (
    response !== undefined &&
    !('unparsed' in response) &&
    response.status >= 400 &&
    response.status < 500 &&
    response.close
  );
}

/** Each request in `extra` is one node:http parsed: same method and path, taken once each. */
function parsedByNode(extra: readonly RecordedRequest[], parsed: readonly ParsedRequest[]): boolean {
  const left = [...parsed];
  return extra.every((request) => {
    const index = left.findIndex((candidate) => candidate.method === request.method && candidate.path === request.url);
    if (index >= 0) left.splice(index, 1);
    return index >= 0;
  });
}

/** The requests of `all` that `some` lacks (both sorted the same way), or undefined when `some` has one `all` lacks. */
function missingFrom<T>(some: readonly T[], all: readonly T[]): T[] | undefined {
  const left = [...all];
  for (const item of some) {
    const index = left.findIndex((candidate) => isDeepStrictEqual(candidate, item));
    if (index < 0) return undefined;
    left.splice(index, 1);
  }
  return left;
}

/** How node:http's client ended: a closing 4xx, or a close without one (CONNECT, an upgrade cut off). */
function nodeEnding(node: Observation): { error: ViewedResponse | undefined; before: ViewedResponse[] } | undefined {
  if (!node.client.closedByProxy || node.timedOut) return undefined;
  const last = node.client.responses.at(-1);
  if (isClosingClientError(last)) return { error: last, before: node.client.responses.slice(0, -1) };
  return last === undefined || 'unparsed' in last || !last.close
    ? { error: undefined, before: node.client.responses }
    : undefined;
}

/** What the fast path's client got before node:http's ending, or undefined when it ended otherwise. */
function fastBeforeEnding(
  fast: Observation,
  error: ViewedResponse | undefined,
  transport: Transport,
): ViewedResponse[] | undefined {
  if (!fast.client.closedByProxy || fast.timedOut) return undefined;
  const responses = fast.client.responses;
  const last = responses.at(-1);
  if (error && isDeepStrictEqual(last, error)) return responses.slice(0, -1);
  // Over TLS, node:http's own 400 to a stream the fast path handed over is sometimes lost
  // to the connection's close; in the clear it never is, so there the ending must match.
  if (transport === 'tls') return responses;
  // Closed after Connection: close (llhttp fails on the bytes that follow), or cut off like node:http's.
  return last === undefined || 'unparsed' in last || last.close || !error ? responses : undefined;
}

/** node:http cut the connection off after a parse error; see the note at the top. */
function parseErrorRace({ observation: fast }: Run, { observation: node, parsed }: Run, transport: Transport): boolean {
  const ending = nodeEnding(node);
  const fastBefore = ending && fastBeforeEnding(fast, ending.error, transport);
  if (!ending || !fastBefore) return false;
  return (
    (isPrefix(fastBefore, ending.before) || isPrefix(ending.before, fastBefore)) && parsedByNode(fast.backend, parsed)
  );
}

export function verdict(fast: Run, node: Run, transport: Transport): Verdict {
  if (isDeepStrictEqual(fast.observation, node.observation)) return { kind: 'same' };
  if (refusedCleanly(fast.observation, node.observation)) return { kind: 'refused' };
  if (parseErrorRace(fast, node, transport)) return { kind: 'parse-error-race' };
  return { kind: 'divergence', report: describeDivergence(fast.observation, node.observation) };
}

function showResponse(response: ViewedResponse): string {
  if ('unparsed' in response) return `  unparsed ${JSON.stringify(response.unparsed)}`;
  return `  ${response.status}${response.close ? ' (close)' : ''} [${response.headers.join('; ')}] ${JSON.stringify(response.body)}`;
}

function showSide(name: string, observation: Observation): string {
  const requests = observation.backend.map((request) => `  ${JSON.stringify(request)}`);
  const responses = observation.client.responses.map(showResponse);
  const end = observation.timedOut
    ? 'timed out'
    : observation.client.closedByProxy
      ? 'closed by the proxy'
      : 'left open';
  return [
    `${name}: the backend parsed ${requests.length} request(s):`,
    ...requests,
    `${name}: the client received (${end}):`,
    ...responses,
  ].join('\n');
}

export function describeDivergence(fast: Observation, node: Observation): string {
  return `${showSide('fast path', fast)}\n${showSide('node:http', node)}`;
}

/** The case as source text, to paste into the example suite. */
export function replayable(stream: StreamCase): string {
  return `[${stream.writes.map((write) => JSON.stringify(write)).join(', ')}]`;
}
