import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

// Drives Luma the way a user does: `luma up` as a real process and the CLI as commands.

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(REPO_ROOT, 'dist/cli/main.js');
const UP_LINE =
  /Luma is up: apps at http:\/\/127\.0\.0\.1:(\d+), API at http:\/\/127\.0\.0\.1:(\d+)(?:, HTTPS at https:\/\/127\.0\.0\.1:(\d+))?/;

/**
 * How a test reaches a running Luma's API: its address, its state directory (where the
 * CLI on this machine finds the token) and the token itself (for raw HTTP). The one place
 * e2e tests get their credentials from.
 */
export interface ApiEndpoint {
  server: string;
  stateDir: string;
  token: string;
}

/** Reads the token a freshly started Luma wrote into its state directory. */
export async function apiEndpoint(server: string, stateDir: string): Promise<ApiEndpoint> {
  return { server, stateDir, token: (await readFile(path.join(stateDir, 'api-token'), 'utf8')).trim() };
}

/** The environment of a `luma` command on the same machine: the server and the state directory holding the token. */
export function cliEnv(api: ApiEndpoint): Record<string, string> {
  return { LUMA_SERVER: api.server, LUMA_STATE_DIR: api.stateDir };
}

/** The Authorization header of raw API requests (fetch, WebSocket). */
export function authHeader(api: ApiEndpoint): Record<'authorization', string> {
  return { authorization: `Bearer ${api.token}` };
}

/** `fetch` of an API path with the token. */
export function apiFetch(api: ApiEndpoint, urlPath: string, init: RequestInit = {}): Promise<Response> {
  return fetch(new URL(urlPath, api.server), {
    ...init,
    headers: { ...(init.headers as Record<string, string> | undefined), ...authHeader(api) },
  });
}

export interface LumaProcess {
  proxyPort: number;
  apiPort: number;
  /** Set when started with --https-listen. */
  httpsPort?: number;
  server: string;
  /** The API with its token: hand it to runCli, apiFetch and Api. */
  api: ApiEndpoint;
  child: ChildProcess;
  output: () => string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL: a crash at an arbitrary moment. */
  kill(): Promise<void>;
}

export interface LumaProcessOptions {
  stateDir: string;
  manifests: string;
  instance: string;
  config?: string;
  proxyPort?: number;
  /** More `luma up` flags (e.g. --https-listen). */
  args?: string[];
  /** More environment for the process (DOCKER_HOST, LUMA_LOG_LEVEL, a counting socket…). */
  env?: Record<string, string>;
  /** How long it may take to say it is up (default 20 s; a crash run on a loaded machine needs more). */
  startTimeoutMs?: number;
  /** Flags for node itself, before the CLI (`--cpu-prof`, which NODE_OPTIONS refuses). */
  nodeArgs?: string[];
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `luma-${prefix}-`));
}

export async function writeConfig(dir: string, settings: Record<string, string>): Promise<string> {
  const file = path.join(dir, 'luma-config.yaml');
  await writeFile(
    file,
    Object.entries(settings)
      .map(([key, value]) => `${key}: ${value}\n`)
      .join(''),
  );
  return file;
}

export interface LumaLaunch {
  child: ChildProcess;
  output: () => string;
  /** Resolves once the process says it is up; rejects when it exits first. */
  ready: Promise<LumaProcess>;
  /** SIGKILL now, whether or not it is up yet: a crash during start-up. */
  kill(): Promise<void>;
}

/** Spawns `luma up` and returns at once; `ready` says when it is up. */
export function launchLuma(options: LumaProcessOptions): LumaLaunch {
  const args = [
    ...(options.nodeArgs ?? []),
    CLI,
    'up',
    '--manifests',
    options.manifests,
    '--state-dir',
    options.stateDir,
    '--listen',
    `127.0.0.1:${options.proxyPort ?? 0}`,
    '--api-listen',
    '127.0.0.1:0',
    ...(options.config ? ['--config', options.config] : []),
    ...(options.args ?? []),
  ];
  const child = spawn(process.execPath, args, {
    env: {
      ...process.env,
      LUMA_INSTANCE: options.instance,
      LUMA_LOG_LEVEL: process.env.LUMA_LOG_LEVEL ?? 'warn',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = async (name: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
    await exited;
  };

  const ports = new Promise<{ proxyPort: number; apiPort: number; httpsPort?: number }>((resolve, reject) => {
    const startTimeoutMs = options.startTimeoutMs ?? 20_000;
    const timer = setTimeout(
      () => reject(new Error(`luma up did not start within ${startTimeoutMs / 1000} s:\n${output}`)),
      startTimeoutMs,
    );
    const check = (): void => {
      const match = UP_LINE.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({
          proxyPort: Number(match[1]),
          apiPort: Number(match[2]),
          ...(match[3] ? { httpsPort: Number(match[3]) } : {}),
        });
      }
    };
    child.stderr?.on('data', check);
    child.once('exit', (code, signalName) => {
      clearTimeout(timer);
      reject(new Error(`luma up exited with ${code ?? signalName}:\n${output}`));
    });
  });
  const ready = ports.then(async (found) => ({
    ...found,
    server: `http://127.0.0.1:${found.apiPort}`,
    api: await apiEndpoint(`http://127.0.0.1:${found.apiPort}`, options.stateDir),
    child,
    output: () => output,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
  }));
  // A launch killed before it was up is a crash the caller asked for, not an error.
  ready.catch(() => undefined);
  return { child, output: () => output, ready, kill: () => signal('SIGKILL') };
}

export async function startLuma(options: LumaProcessOptions): Promise<LumaProcess> {
  return launchLuma(options).ready;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** The Luma to talk to, as a CLI on the same machine does (its state directory has the token). */
  api?: ApiEndpoint;
  /** Only a server address (no token): for a Luma that is not there. */
  server?: string;
  stdin?: string;
  env?: Record<string, string>;
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: {
        ...process.env,
        ...(options.server ? { LUMA_SERVER: options.server } : {}),
        ...(options.api ? cliEnv(options.api) : {}),
        ...options.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.end(options.stdin ?? '');
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export interface HttpAnswer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** A plain request through the proxy with a chosen Host header; a fresh connection each time. */
export function request(port: number, host: string, urlPath = '/', timeoutMs = 30_000): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: urlPath, headers: { host }, agent: false, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request to ${host}${urlPath} timed out`)));
    req.on('error', reject);
  });
}

/** Polls until check() is truthy; for state that converges (no fixed sleeps). */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface ProjectManifestSpec {
  hostnames: string[];
  image: string;
  env?: Record<string, string>;
  minInstances?: number;
  maxInstances?: number;
  targetConcurrency?: number;
  idleTimeout?: string;
  pauseAfter?: string;
  startupTimeout?: string;
  command?: string[];
  resources?: { cpu: string; memory: string };
  tls?: boolean;
  /** spec.securityContext.capabilities.add */
  addCapabilities?: string[];
  /** spec.timeout */
  timeout?: string;
  /** spec.scaling.maxConcurrency and maxQueued */
  maxConcurrency?: number;
  maxQueued?: number;
}

/** The busybox test app's upgrade-and-echo server (test/fixtures/app/ws.sh) instead of httpd. */
export const ECHO_SERVER_COMMAND = ['/bin/busybox', 'nc', '-ll', '-p', '8080', '-e', '/ws.sh'];

/** The test app as one that cannot start: two lines on its log, then exit code 3 at once. */
export const CRASHING_COMMAND = [
  '/bin/busybox',
  'sh',
  '-c',
  'echo starting up; echo fatal: DATABASE_URL is not set >&2; exit 3',
];

export function projectManifest(name: string, spec: ProjectManifestSpec): string {
  const lines = [
    'apiVersion: luma.dev/v1alpha1',
    'kind: Project',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    `  image: ${spec.image}`,
    '  hostnames:',
    ...spec.hostnames.map((host) => `    - ${host}`),
  ];
  if (spec.env && Object.keys(spec.env).length > 0) {
    lines.push('  env:', ...Object.entries(spec.env).map(([key, value]) => `    ${key}: "${value}"`));
  }
  lines.push(
    '  scaling:',
    `    minInstances: ${spec.minInstances ?? 0}`,
    `    maxInstances: ${spec.maxInstances ?? 1}`,
    `    idleTimeout: ${spec.idleTimeout ?? '60s'}`,
  );
  if (spec.targetConcurrency !== undefined) lines.push(`    targetConcurrency: ${spec.targetConcurrency}`);
  if (spec.pauseAfter) lines.push(`    pauseAfter: ${spec.pauseAfter}`);
  if (spec.maxConcurrency !== undefined) lines.push(`    maxConcurrency: ${spec.maxConcurrency}`);
  if (spec.maxQueued !== undefined) lines.push(`    maxQueued: ${spec.maxQueued}`);
  if (spec.timeout) lines.push(`  timeout: ${spec.timeout}`);
  if (spec.startupTimeout) lines.push('  readiness:', `    startupTimeout: ${spec.startupTimeout}`);
  if (spec.command) lines.push(`  command: ${JSON.stringify(spec.command)}`);
  if (spec.resources)
    lines.push('  resources:', `    cpu: ${spec.resources.cpu}`, `    memory: ${spec.resources.memory}`);
  if (spec.tls) lines.push('  tls: true');
  if (spec.addCapabilities)
    lines.push('  securityContext:', '    capabilities:', `      add: [${spec.addCapabilities.join(', ')}]`);
  return lines.join('\n') + '\n';
}
