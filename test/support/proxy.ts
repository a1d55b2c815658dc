import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { apiEndpoint, REPO_ROOT, type ApiEndpoint, type CliResult } from './luma.js';

// Drives the split deployment the way a user does: `luma proxy run` (or `luma-proxy run`)
// and `luma controller` as real processes, the proxy's client mode as commands, and
// plain Node HTTP backends that Luma does not manage.

const CLI = path.join(REPO_ROOT, 'dist/cli/main.js');
const PROXY_CLI = path.join(REPO_ROOT, 'dist/cli/luma-proxy.js');
const PROXY_UP_LINE =
  /Luma proxy is up: apps at http:\/\/127\.0\.0\.1:(\d+), management socket (.+), (\d+) route\(s\) restored/;
const PROXY_HTTPS_LINE = /; HTTPS at https:\/\/127\.0\.0\.1:(\d+)/;
const PROXY_METRICS_LINE = /route\(s\) restored, metrics at http:\/\/[^/]+:(\d+)\/metrics/;
const CONTROLLER_UP_LINE = /Luma controller is up: API at http:\/\/127\.0\.0\.1:(\d+)/;

export interface DaemonProcess {
  child: ChildProcess;
  pid: number;
  output: () => string;
  /** Resolves with the exit code (null when killed by a signal) once the process has exited. */
  exited: Promise<number | null>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash at an arbitrary moment. */
  kill(): Promise<number | null>;
}

export interface ProxyProcess extends DaemonProcess {
  port: number;
  socketPath: string;
  restored: number;
  /** Where /metrics is served, when started with --metrics-listen. */
  metricsPort?: number;
  /** The HTTPS listener's port, when started with --https-listen. */
  httpsPort?: number;
}

export interface ControllerProcess extends DaemonProcess {
  apiPort: number;
  server: string;
  api: ApiEndpoint;
}

function spawnDaemon(
  args: string[],
  env: Record<string, string>,
  upLine: RegExp,
  what: string,
): Promise<{ daemon: DaemonProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, LUMA_LOG_LEVEL: process.env.LUMA_LOG_LEVEL ?? 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const signal = async (name: NodeJS.Signals): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
    return exited;
  };
  const daemon: DaemonProcess = {
    child,
    pid: child.pid ?? -1,
    output: () => output,
    exited,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not start within 20 s:\n${output}`));
    }, 20_000);
    const check = (): void => {
      const match = upLine.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stderr?.off('data', check);
        resolve({ daemon, match });
      }
    };
    child.stderr?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}:\n${output}`));
    });
  });
}

export interface ProxyOptions {
  stateDir: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  socketPath?: string;
  /** Run through the `luma-proxy` binary instead of `luma proxy`. */
  binary?: 'luma' | 'luma-proxy';
  args?: string[];
  env?: Record<string, string>;
}

/** `luma proxy run` on 127.0.0.1, resolved once it prints that it is up. */
export async function startProxy(options: ProxyOptions): Promise<ProxyProcess> {
  const entry = options.binary === 'luma-proxy' ? [PROXY_CLI] : [CLI, 'proxy'];
  const args = [
    ...entry,
    'run',
    '--state-dir',
    options.stateDir,
    '--listen',
    `127.0.0.1:${options.port ?? 0}`,
    ...(options.socketPath ? ['--socket-path', options.socketPath] : []),
    ...(options.args ?? []),
  ];
  const { daemon, match } = await spawnDaemon(args, options.env ?? {}, PROXY_UP_LINE, 'luma proxy run');
  const metrics = PROXY_METRICS_LINE.exec(daemon.output());
  const https = PROXY_HTTPS_LINE.exec(daemon.output());
  return {
    ...daemon,
    port: Number(match[1]),
    socketPath: match[2] ?? '',
    restored: Number(match[3]),
    ...(metrics ? { metricsPort: Number(metrics[1]) } : {}),
    ...(https ? { httpsPort: Number(https[1]) } : {}),
  };
}

export interface ControllerOptions {
  stateDir: string;
  manifests: string;
  /** The proxy's public port (used for status URLs). */
  proxyPort: number;
  instance: string;
  config?: string;
  env?: Record<string, string>;
}

/** `luma controller` steering the proxy whose socket is in the same state directory. */
export async function startController(options: ControllerOptions): Promise<ControllerProcess> {
  const args = [
    CLI,
    'controller',
    '--state-dir',
    options.stateDir,
    '--manifests',
    options.manifests,
    '--listen',
    `127.0.0.1:${options.proxyPort}`,
    '--api-listen',
    '127.0.0.1:0',
    ...(options.config ? ['--config', options.config] : []),
  ];
  const { daemon, match } = await spawnDaemon(
    args,
    { LUMA_INSTANCE: options.instance, ...options.env },
    CONTROLLER_UP_LINE,
    'luma controller',
  );
  const apiPort = Number(match[1]);
  const server = `http://127.0.0.1:${apiPort}`;
  return { ...daemon, apiPort, server, api: await apiEndpoint(server, options.stateDir) };
}

/** The proxy's client mode: `luma proxy ARGS` (or `luma-proxy ARGS`). */
export function proxyCli(
  args: string[],
  options: { binary?: 'luma' | 'luma-proxy'; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const entry = options.binary === 'luma-proxy' ? [PROXY_CLI] : [CLI, 'proxy'];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...entry, ...args], {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export interface Backend {
  port: number;
  address: string;
  server: http.Server;
  close(): Promise<void>;
}

/** A plain Node HTTP server on 127.0.0.1 with a free port; close() also ends open connections. */
export async function startBackend(handler: http.RequestListener): Promise<Backend> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface ScriptedBackend extends Omit<Backend, 'server'> {
  /** The request heads received, in order (requests with a body are not expected). */
  heads: string[];
}

/**
 * A target that answers each request with bytes written as given, chosen by the request's
 * path: for responses no well-behaved server library sends (framing headers named in
 * Connection, refused upgrades with a chunked body). An answer ending the connection is
 * closed after writing; others keep it for the next request.
 */
export async function startScriptedBackend(
  answers: Record<string, { bytes: string; close?: boolean }>,
): Promise<ScriptedBackend> {
  const heads: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      for (let end = received.indexOf('\r\n\r\n'); end >= 0 && !socket.destroyed; end = received.indexOf('\r\n\r\n')) {
        const head = received.slice(0, end + 4);
        received = received.slice(end + 4);
        heads.push(head);
        const answer = answers[head.split(' ')[1] ?? ''] ?? {
          bytes: 'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n',
        };
        socket.write(answer.bytes, 'latin1');
        if (answer.close) socket.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    heads,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** Resident set size of a process in bytes, from /proc/PID/status (VmRSS). */
export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Samples a process's RSS every intervalMs until stop() is called; returns the peak. */
export function sampleRss(pid: number, intervalMs = 100): { stop(): Promise<{ peak: number; samples: number }> } {
  let peak = 0;
  let samples = 0;
  let pending: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    pending = rssOf(pid)
      .then((rss) => {
        peak = Math.max(peak, rss);
        samples++;
      })
      .catch(() => undefined);
  }, intervalMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await pending;
      return { peak, samples };
    },
  };
}

/** Answers 64 MiB, more than any socket buffers hold, as fast as the reader takes it (a backend's handler). */
export function largeResponse(_req: http.IncomingMessage, res: http.ServerResponse): void {
  res.writeHead(200, { 'content-length': String(64 * 1024 * 1024) });
  const chunk = Buffer.alloc(1024 * 1024, 97);
  let sent = 0;
  const pump = (): void => {
    while (sent < 64) {
      sent++;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}
