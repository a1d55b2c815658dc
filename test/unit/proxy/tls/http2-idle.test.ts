import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { closeWhenIdle } from '../../../../src/proxy/tls/http2-idle.js';

// The HTTP/2 session idle timeout: a session is closed once no stream has been open for
// that long, never while a stream is open, however quiet (cleartext HTTP/2 in-process).

const IDLE_MS = 150;
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

async function listen(answerAfterMs: number): Promise<number> {
  const server = http2.createServer();
  server.on('session', (session) => closeWhenIdle(session, IDLE_MS));
  server.on('stream', (stream) =>
    setTimeout(() => stream.respond({ ':status': 200 }, { endStream: true }), answerAfterMs),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => server.close());
  return (server.address() as AddressInfo).port;
}

function session(port: number): { client: http2.ClientHttp2Session; closed: Promise<number> } {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => undefined);
  cleanups.push(() => client.destroy());
  return { client, closed: new Promise((resolve) => client.once('close', () => resolve(performance.now()))) };
}

function get(client: http2.ClientHttp2Session): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = client.request({ ':path': '/' });
    stream.on('error', reject);
    stream.resume();
    stream.on('close', () => resolve(performance.now()));
  });
}

describe('closeWhenIdle', () => {
  it('closes a session that never opens a stream', async () => {
    const startedAt = performance.now();
    const { closed } = session(await listen(0));
    expect((await closed) - startedAt).toBeGreaterThanOrEqual(IDLE_MS - 1);
  });

  it('never closes a session while a stream is open, and counts from its last stream', async () => {
    const { client, closed } = session(await listen(3 * IDLE_MS));
    const startedAt = performance.now();
    const streamEndedAt = await get(client);
    expect(streamEndedAt - startedAt, 'the quiet stream outlived the idle timeout').toBeGreaterThanOrEqual(
      3 * IDLE_MS - 1,
    );
    expect((await closed) - streamEndedAt).toBeGreaterThanOrEqual(IDLE_MS - 20);
  });
});
