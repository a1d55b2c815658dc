import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testInstance } from '../support/docker.js';
import { REPO_ROOT, startLuma, tempDir } from '../support/luma.js';

// Readable logs in a terminal (issue 24): `luma up` logs text lines when stderr is a
// terminal (here a pseudo-terminal from util-linux's script), JSON lines when piped, and
// --log-format / LUMA_LOG_FORMAT choose either way.

const CLI = path.join(REPO_ROOT, 'dist/cli/main.js');
const JSON_UP = /^\{"level":30,.*"msg":"luma is up"\}$/m;
const TEXT_UP = /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: luma is up \{.*"proxyPort":\d+/m;

describe('log format', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('logfmt');
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function upOutput(name: string, options: { args?: string[]; env?: Record<string, string> }): Promise<string> {
    const root = path.join(dir, name);
    await mkdir(path.join(root, 'manifests'), { recursive: true });
    const luma = await startLuma({
      stateDir: path.join(root, 'state'),
      manifests: path.join(root, 'manifests'),
      instance: testInstance(`log-${name}`),
      env: { LUMA_LOG_LEVEL: 'info', ...options.env },
      ...(options.args ? { args: options.args } : {}),
    });
    await luma.stop();
    return luma.output();
  }

  /** `luma up` on a pseudo-terminal until it logs that it is up; what the terminal showed. */
  async function upOnTerminal(name: string, env: Record<string, string> = {}): Promise<string> {
    const root = path.join(dir, name);
    await mkdir(path.join(root, 'manifests'), { recursive: true });
    const command = [
      process.execPath,
      CLI,
      'up',
      '--manifests',
      path.join(root, 'manifests'),
      '--state-dir',
      path.join(root, 'state'),
      '--listen',
      '127.0.0.1:0',
      '--api-listen',
      '127.0.0.1:0',
    ].join(' ');
    const child = spawn('script', ['-qefc', command, '/dev/null'], {
      env: {
        ...process.env,
        LUMA_INSTANCE: testInstance(`log-${name}`),
        LUMA_LOG_LEVEL: 'info',
        NO_COLOR: '1',
        ...env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`luma up did not start:\n${output}`)), 30_000);
      child.stdout.on('data', () => {
        if (/luma is up/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    // Ctrl-C on the terminal: SIGINT to luma, which stops gracefully.
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.stdin.write('\x03');
    await exited;
    return output.replace(/\r\n/g, '\n');
  }

  it('is text on a terminal', async () => {
    const output = await upOnTerminal('tty');
    expect(output).toMatch(TEXT_UP);
    expect(output).not.toMatch(JSON_UP);
  });

  it('is JSON when stderr is a pipe', async () => {
    expect(await upOutput('pipe', {})).toMatch(JSON_UP);
  });

  it('is text on a pipe with --log-format text', async () => {
    const output = await upOutput('flag', { args: ['--log-format', 'text'] });
    expect(output).toMatch(TEXT_UP);
    expect(output).not.toMatch(JSON_UP);
  });

  it('is JSON on a terminal with LUMA_LOG_FORMAT=json', async () => {
    expect(await upOnTerminal('env', { LUMA_LOG_FORMAT: 'json' })).toMatch(JSON_UP);
  });
});
