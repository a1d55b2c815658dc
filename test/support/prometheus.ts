import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

// Debian's Prometheus tools, driven the way an operator uses them: `promtool check` on
// Luma's /metrics output and alert rules, and a real `prometheus` scraping a running Luma.
// Each test starts its own prometheus on a free loopback port with its own config and data
// directory; a system service the package may have started is never used.

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function promtool(args: string[], stdin = ''): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.stdin.end(stdin);
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface ScrapeTarget {
  job: string;
  /** host:port */
  address: string;
}

export interface PrometheusProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  /** An instant query; resolves with Prometheus' answer, errors included. */
  query(expr: string): Promise<PromQueryAnswer>;
  stop(): Promise<void>;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export type PromQueryAnswer =
  | {
      status: 'success';
      data:
        | { resultType: 'vector'; result: PromSample[] }
        | { resultType: 'scalar' | 'string'; result: [number, string] }
        | { resultType: 'matrix'; result: unknown[] };
    }
  | { status: 'error'; errorType: string; error: string };

export async function startPrometheus(options: {
  dir: string;
  targets: ScrapeTarget[];
  scrapeIntervalSeconds: number;
  ruleFiles?: string[];
}): Promise<PrometheusProcess> {
  await mkdir(path.join(options.dir, 'data'), { recursive: true });
  const config = path.join(options.dir, 'prometheus.yml');
  const interval = `${options.scrapeIntervalSeconds}s`;
  await writeFile(
    config,
    [
      'global:',
      `  scrape_interval: ${interval}`,
      `  evaluation_interval: ${interval}`,
      ...(options.ruleFiles?.length
        ? ['rule_files:', ...options.ruleFiles.map((file) => `  - ${JSON.stringify(file)}`)]
        : []),
      'scrape_configs:',
      ...options.targets.flatMap((target) => [
        `  - job_name: ${target.job}`,
        '    static_configs:',
        `      - targets: ['${target.address}']`,
      ]),
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const child = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(options.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${output}`);
    const ready = await fetch(`${url}/-/ready`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`prometheus was not ready within 20 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    child,
    output: () => output,
    query: async (expr) => {
      const response = await fetch(`${url}/api/v1/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ query: expr }),
      });
      return (await response.json()) as PromQueryAnswer;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
