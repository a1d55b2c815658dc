import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionCap } from '../../../src/proxy/connection-cap.js';

// The cap on open client connections, shared by listeners: one past it is closed as it is
// accepted and never reaches the listener's own handler; a closed one frees its place.

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

async function listen(cap: ConnectionCap, handled: net.Socket[]): Promise<number> {
  const server = net.createServer((socket) => handled.push(socket));
  cap.guard(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const socket of handled) socket.destroy();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

function connect(port: number): { socket: net.Socket; closed: Promise<void> } {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  cleanups.push(() => socket.destroy());
  return { socket, closed: new Promise((resolve) => socket.once('close', () => resolve())) };
}

const until = async (condition: () => boolean): Promise<void> => {
  for (let attempt = 0; attempt < 200 && !condition(); attempt++)
    await new Promise((resolve) => setTimeout(resolve, 5));
};

describe('ConnectionCap', () => {
  it('admits up to the cap across two listeners, closes the next at once, and reports it', async () => {
    const reports: number[] = [];
    const cap = new ConnectionCap(2, (refused) => reports.push(refused));
    const handledA: net.Socket[] = [];
    const handledB: net.Socket[] = [];
    const [portA, portB] = [await listen(cap, handledA), await listen(cap, handledB)];
    connect(portA);
    connect(portB);
    await until(() => cap.count === 2);
    const refused = connect(portA);
    await refused.closed;
    expect(handledA.length + handledB.length, 'the refused one never reached a handler').toBe(2);
    expect(reports).toEqual([1]);
  });

  it('frees a place when an admitted connection closes', async () => {
    const cap = new ConnectionCap(1);
    const handled: net.Socket[] = [];
    const port = await listen(cap, handled);
    const first = connect(port);
    await until(() => cap.count === 1);
    first.socket.destroy();
    await until(() => cap.count === 0);
    connect(port);
    await until(() => handled.length === 2);
    expect(handled).toHaveLength(2);
    expect(cap.count).toBe(1);
  });

  it('reports refusals at most once per interval, with how many there were', () => {
    let now = 0;
    const reports: number[] = [];
    const cap = new ConnectionCap(
      0,
      (refused) => reports.push(refused),
      1_000,
      () => now,
    );
    const refuse = (): boolean => cap.admit(new net.Socket());
    expect(refuse()).toBe(false);
    now = 500;
    refuse();
    refuse();
    now = 1_000;
    refuse();
    expect(reports).toEqual([1, 3]);
  });
});
