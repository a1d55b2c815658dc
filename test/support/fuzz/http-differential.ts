import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls, { type SecureContext } from 'node:tls';
import type { ClientExchange } from '../../../src/proxy/exchange.js';
import { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { newRequestId } from '../../../src/proxy/request-id.js';
import { HttpsListener } from '../../../src/proxy/tls/https-listener.js';
import { silentLogger } from '../../../src/util/logger.js';
import { makeCertificate } from '../certificates.js';
import { viewResponses, type ClientView } from './http-client-view.js';
import { startRecordingBackend, type RecordedRequest } from './http-recording-backend.js';
import { ROUTED_HOST, type StreamCase } from './http-streams.js';

// Sends one request stream through a fresh ProxyServer (fast path on, or node:http for
// everything), on its plain listener or over TLS on an HTTPS listener (HTTP/1.1 chosen
// through ALPN), to a fresh recording backend, and returns what the backend parsed and
// what the client received. Fresh servers per case: a request smuggled onto a pooled
// upstream connection must not leak into the next case. A case ends when the proxy
// closes the connection (the closing request asks it to), or when nothing has moved
// (no byte at the client, nothing at the backend, no request parsed or ended by the
// proxy) for quietMs and quietTurns event-loop turns (a body still awaited), or at caseLimitMs.
// Turns as well as time: a machine that stalls the process for longer than quietMs must
// not end a case before the proxy has read what was written.

export interface Observation {
  /**
   * What the backend parsed, sorted: node:http hands pipelined requests over at once and
   * undici sends them on connections of their own, so the order they reach the app in is
   * not defined on either path. The order of the answers is, and the client view keeps it.
   */
  backend: RecordedRequest[];
  client: ClientView;
  /** The case hit CASE_LIMIT_MS. */
  timedOut: boolean;
}

/** A request as the proxy parsed it, whether or not it reached the app. */
export interface ParsedRequest {
  method: string;
  /** The path routed on (an absolute-form target's path). */
  path: string;
}

/** What else the run saw, for the oracle's allowances (not compared as such). */
export interface Run {
  observation: Observation;
  /** Every request the proxy handed to its routing (upgrades included), in order. */
  parsed: ParsedRequest[];
}

/** A ProxyServer that notes every request its parsers hand to routing. */
class ParseRecordingProxy extends ProxyServer {
  readonly parsed: ParsedRequest[] = [];
  /** Requests handed to routing and requests ended: progress, when it changes. */
  events = 0;

  override async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    this.parsed.push({ method: req.method ?? '', path: req.url ?? '' });
    this.events++;
    await super.handleUpgrade(req, socket, head);
  }

  override async serve(exchange: ClientExchange): Promise<void> {
    const target = exchange.resolveTarget();
    this.parsed.push({ method: exchange.method, path: target.ok ? target.path : exchange.url });
    this.events++;
    try {
      await super.serve(exchange);
    } finally {
      this.events++;
    }
  }
}

export const DIFFERENTIAL_TIMING = {
  /** Nothing received and nothing under way for this long: the proxy waits for bytes that will not come. */
  quietMs: 60,
  quietTurns: 12,
  caseLimitMs: 3_000,
  /** Closing the proxy and the backend takes longer than this: a connection was left open (a failure). */
  closeLimitMs: 2_000,
  /** Between two writes, so that each is likely read on its own. */
  writeGapMs: 1,
} as const;

/** This process's own new request ids all start with this; their values differ by path. */
const GENERATED_ID_PREFIX = newRequestId().slice(0, 24);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface ClientRun {
  received: Buffer[];
  closedByProxy: boolean;
}

/** Plain TCP, or TLS to an HTTPS listener with the certificate of `ca`. */
export type Transport = 'tcp' | 'tls';

interface Connected {
  socket: net.Socket;
  run: ClientRun;
  closed: Promise<void>;
  /** Resolves once the connection can carry the stream (TLS: the handshake is done). */
  ready: Promise<void>;
}

function connect(port: number, ca: string | undefined): Connected {
  const socket = ca
    ? tls.connect({ host: '127.0.0.1', port, servername: ROUTED_HOST, ca, ALPNProtocols: ['http/1.1'] })
    : net.connect(port, '127.0.0.1');
  const ready = new Promise<void>((resolve) => socket.once(ca ? 'secureConnect' : 'connect', () => resolve()));
  socket.setNoDelay(true);
  const run: ClientRun = { received: [], closedByProxy: false };
  socket.on('data', (chunk) => run.received.push(chunk));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) =>
    socket.on('close', () => {
      run.closedByProxy = true;
      resolve();
    }),
  );
  return { socket, run, closed, ready: Promise.race([ready, closed]) };
}

let certificate: Promise<{ context: SecureContext; ca: string }> | undefined;

/** One certificate for every TLS case of the process: making one takes longer than a case. */
function testCertificate(): Promise<{ context: SecureContext; ca: string }> {
  certificate ??= makeCertificate({
    hosts: [ROUTED_HOST],
    notBefore: Date.now() - 60_000,
    notAfter: Date.now() + 86_400_000,
  }).then((pem) => ({ context: tls.createSecureContext({ cert: pem.certPem, key: pem.keyPem }), ca: pem.certPem }));
  return certificate;
}

/** The proxy's HTTPS listener in front of `proxy`, as TlsProxy builds it, with the test certificate. */
async function listenTls(proxy: ProxyServer): Promise<{ port: number; ca: string; close: () => Promise<void> }> {
  const { context, ca } = await testCertificate();
  const listener = new HttpsListener({
    contextFor: () => context,
    handle: (req, res) => void proxy.handle(req, res),
    handleStream: (stream, headers) => void proxy.handleHttp2Stream(stream, headers),
    handleUpgrade: (req, socket, head) => void proxy.handleUpgrade(req, socket, head),
    logger: silentLogger(),
    limits: proxy.limits,
    connectionCap: proxy.connectionCap,
    fastPath: (fallback) => proxy.fastPathListener((socket) => fallback(socket as tls.TLSSocket)),
  });
  const { port } = await listener.listen('127.0.0.1', 0);
  return { port, ca, close: () => listener.close(proxy.close()) };
}

async function writeAll(socket: net.Socket, writes: readonly string[]): Promise<void> {
  for (const [index, text] of writes.entries()) {
    if (socket.destroyed) return;
    if (index > 0) await sleep(DIFFERENTIAL_TIMING.writeGapMs);
    socket.write(Buffer.from(text, 'latin1'));
  }
}

/** Waits for the proxy to close the connection, or for quiet; false when the case limit was hit. */
async function settle(closed: Promise<void>, progress: () => number): Promise<boolean> {
  const { caseLimitMs, quietMs, quietTurns } = DIFFERENTIAL_TIMING;
  const limit = Date.now() + caseLimitMs;
  let isClosed = false;
  void closed.then(() => (isClosed = true));
  let seen = progress();
  let quietSince = Date.now();
  let turns = 0;
  while (!isClosed && Date.now() < limit) {
    await Promise.race([closed, sleep(5)]);
    const now = progress();
    if (now !== seen) [seen, quietSince, turns] = [now, Date.now(), 0];
    else if (++turns >= quietTurns && Date.now() - quietSince >= quietMs) return true;
  }
  return isClosed;
}

/** Request ids the proxy made up differ by path and process; ids the client gave do not. */
function withoutGeneratedIds(text: string): string {
  return text.split(GENERATED_ID_PREFIX).join('<generated>');
}

function sortedRequests(requests: readonly RecordedRequest[]): RecordedRequest[] {
  return requests
    .map((request) => ({ request, key: JSON.stringify(request) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map(({ request }) => request);
}

export async function observe(fastPath: boolean, stream: StreamCase, transport: Transport = 'tcp'): Promise<Run> {
  const backend = await startRecordingBackend();
  const proxy = new ParseRecordingProxy({ fastPath, drainTimeoutMs: 0 });
  let close = (): Promise<void> => proxy.close();
  try {
    let port = (await proxy.listen('127.0.0.1', 0)).port;
    let ca: string | undefined;
    if (transport === 'tls') ({ port, ca, close } = await listenTls(proxy));
    await proxy.deploy({ service: 'app', hosts: [ROUTED_HOST], targets: [backend.address] });
    const { socket, run, closed, ready } = connect(port, ca);
    await ready;
    await writeAll(socket, stream.writes);
    const settled = await settle(closed, () => run.received.length + backend.events() + proxy.events);
    const closedByProxy = run.closedByProxy;
    socket.destroy();
    const received = withoutGeneratedIds(Buffer.concat(run.received).toString('latin1'));
    const observation = {
      backend: sortedRequests(backend.requests),
      client: { responses: viewResponses(received), closedByProxy },
      timedOut: !settled,
    };
    return { observation, parsed: [...proxy.parsed] };
  } finally {
    await within(close(), 'the proxy did not close (a connection it no longer tracks stayed open)');
    await within(backend.close(), 'the backend did not close');
  }
}

async function within(promise: Promise<void>, failure: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${failure} within ${DIFFERENTIAL_TIMING.closeLimitMs} ms`)),
      DIFFERENTIAL_TIMING.closeLimitMs,
    );
  });
  try {
    await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** Both paths, one after the other (at the same time they would share the two cores' timing noise). */
export async function observeBoth(stream: StreamCase, transport: Transport = 'tcp'): Promise<{ fast: Run; node: Run }> {
  const fast = await observe(true, stream, transport);
  const node = await observe(false, stream, transport);
  return { fast, node };
}
