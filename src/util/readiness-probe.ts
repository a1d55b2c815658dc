import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';

// Decides when a freshly started container can take traffic. Docker's loopback port
// proxy accepts connections before the app listens, so only an answer from the app
// itself counts as ready, hence HTTP probing by default.

/** `h2c`: the HTTP GET of `http`, over HTTP/2 cleartext, for apps that speak nothing else (gRPC servers). */
export type ReadinessCheck = { type: 'http'; path: string } | { type: 'h2c'; path: string } | { type: 'tcp' };

const PROBE_TIMEOUT_MS = 1_000;
/** Fast at first, then every 20 ms: a probe is one loopback request, and a coarser step would add up to its length to every cold start. */
const FIRST_INTERVAL_MS = 5;
const MAX_INTERVAL_MS = 20;

export class ReadinessTimeoutError extends Error {
  readonly code = 'ReadinessTimeout';
  constructor(
    readonly address: string,
    readonly timeoutMs: number,
    readonly lastError: string,
  ) {
    super(`the app at ${address} did not become ready within ${timeoutMs / 1000}s (last probe: ${lastError})`);
    this.name = 'ReadinessTimeoutError';
  }
}

function probeHttp(host: string, port: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = http.get(
      { host, port, path, timeout: PROBE_TIMEOUT_MS, agent: false, headers: { 'user-agent': 'luma-readiness' } },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        if (status > 0 && status < 500) resolve();
        else reject(new Error(`HTTP ${status}`));
      },
    );
    request.on('timeout', () => request.destroy(new Error('probe timed out')));
    request.on('error', reject);
  });
}

/** An HTTP/2 GET with prior knowledge: a gRPC server answers one (200 with a grpc-status), so it counts. */
function probeH2c(host: string, port: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${host.includes(':') ? `[${host}]` : host}:${port}`);
    const settle = (error?: Error): void => {
      clearTimeout(timer);
      session.destroy();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => settle(new Error('probe timed out')), PROBE_TIMEOUT_MS);
    session.once('error', (error) => settle(error));
    session.once('close', () => settle(new Error('connection closed by peer')));
    const request = session.request({ ':path': path, 'user-agent': 'luma-readiness' }, { endStream: true });
    request.once('response', (headers) => {
      const status = Number(headers[':status']);
      if (status > 0 && status < 500) settle();
      else settle(new Error(`HTTP ${status}`));
    });
    request.once('error', (error: Error) => settle(error));
  });
}

/**
 * Succeeds when the peer keeps the connection open briefly: Docker's port proxy accepts
 * and then closes at once when nothing listens inside the container.
 */
function probeTcp(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const settle = (error?: Error): void => {
      socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => settle(new Error('connect timed out')));
    socket.once('error', (error) => settle(error));
    socket.once('close', () => settle(new Error('connection closed by peer')));
    socket.once('connect', () => setTimeout(() => settle(), 50));
  });
}

export async function waitUntilReady(
  host: string,
  port: number,
  check: ReadinessCheck,
  timeoutMs: number,
  isCancelled: () => boolean = () => false,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let interval = FIRST_INTERVAL_MS;
  let lastError = 'no probe ran';
  for (;;) {
    try {
      if (check.type === 'http') await probeHttp(host, port, check.path);
      else if (check.type === 'h2c') await probeH2c(host, port, check.path);
      else await probeTcp(host, port);
      return;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    if (isCancelled()) throw new Error('readiness wait cancelled');
    if (Date.now() + interval > deadline) throw new ReadinessTimeoutError(`${host}:${port}`, timeoutMs, lastError);
    await new Promise((resolve) => setTimeout(resolve, interval));
    interval = Math.min(MAX_INTERVAL_MS, interval * 2);
  }
}
