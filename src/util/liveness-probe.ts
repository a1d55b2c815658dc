import http from 'node:http';
import net from 'node:net';
import type { ReadinessCheck } from './readiness-probe.js';

// One liveness check of an app on loopback, as Kubernetes runs it: an HTTP GET that
// answers 200–399 within the timeout, or a TCP connection that opens and stays open.
// One attempt, no retry: the monitor counts failures in a row (liveness-monitor.ts).

/** Resolves when the app is alive; rejects with what went wrong (the event's "why"). */
export type LivenessProber = (host: string, port: number, check: ReadinessCheck, timeoutMs: number) => Promise<void>;

/** How long a TCP connection must stay open: Docker's port proxy accepts, then closes when nothing listens inside. */
const TCP_HOLD_MS = 50;

export const probeLiveness: LivenessProber = (host, port, check, timeoutMs) =>
  check.type === 'http' ? httpCheck(host, port, check.path, timeoutMs) : tcpCheck(host, port, timeoutMs);

function httpCheck(host: string, port: number, path: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host, port, path, agent: false, headers: { 'user-agent': 'luma-liveness' } }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      clearTimeout(timer);
      if (status >= 200 && status < 400) resolve();
      else reject(new Error(`HTTP ${status}`));
    });
    // The whole check, not only socket idleness: an app that trickles bytes is not alive.
    const timer = setTimeout(() => request.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    request.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function tcpCheck(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let holding: NodeJS.Timeout | undefined;
    const settle = (error?: Error): void => {
      clearTimeout(timer);
      clearTimeout(holding);
      socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => settle(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    socket.once('error', (error) => settle(error));
    socket.once('close', () => settle(new Error('connection closed by the app')));
    socket.once('connect', () => (holding = setTimeout(() => settle(), TCP_HOLD_MS)));
  });
}
