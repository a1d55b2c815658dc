import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime } from '../../src/runtime/docker-runtime.js';
import type { ContainerSpec } from '../../src/runtime/runtime.js';
import { docker, removeInstanceContainers, testInstance } from '../support/docker.js';
import { writeContext } from '../support/images.js';
import { eventually } from '../support/luma.js';

// `command` and `args` on the real engine, as Kubernetes means them: command replaces the
// image's ENTRYPOINT (and drops its CMD), args replace its CMD. The image has both; its
// process prints its own argv (from /proc, NUL-separated, joined here with '|') and exits.

const run = promisify(execFile);

const ARGV_SCRIPT = "tr '\\000' '|' < /proc/$$/cmdline; echo\n";
const DOCKERFILE = [
  'FROM scratch',
  'COPY busybox /bin/busybox',
  'COPY argv.sh /argv.sh',
  'ENTRYPOINT ["/bin/busybox", "sh", "/argv.sh", "from-entrypoint"]',
  'CMD ["from-cmd-1", "from-cmd-2"]',
  '',
].join('\n');

describe('the process of a container made with command and args', () => {
  const instance = testInstance('argv');
  const image = `luma-test/argv:${instance}`;
  const runtime = new DockerRuntime({ instance });
  let context: string;

  beforeAll(async () => {
    context = await mkdtemp(path.join(os.tmpdir(), 'luma-argv-'));
    await writeContext(context, { Dockerfile: DOCKERFILE, 'argv.sh': ARGV_SCRIPT });
    await run('docker', ['build', '-q', '--label', `luma.dev/instance=${instance}`, '-t', image, context]);
  });

  afterAll(async () => {
    await removeInstanceContainers(instance);
    await docker
      .getImage(image)
      .remove({ force: true })
      .catch(() => undefined);
    await rm(context, { recursive: true, force: true });
  });

  /** Runs the image with the given process and answers the argv it printed. */
  async function argvOf(name: string, process: Pick<ContainerSpec, 'command' | 'args'>): Promise<string[]> {
    const created = await runtime.create({
      owner: { kind: 'Project', name, uid: `uid-${name}` },
      specHash: 'h',
      image,
      port: 8080,
      env: {},
      ...process,
    });
    await runtime.start(created.id);
    const line = await eventually(
      async () => {
        const current = await runtime.inspect(created.id);
        if (current?.state !== 'exited') return false;
        const lines: string[] = [];
        for await (const entry of (await runtime.logs(created.id, { follow: false })) ?? []) lines.push(entry.line);
        return lines.join('\n');
      },
      10_000,
      `the ${name} container printing its argv`,
    );
    return line.replace(/\|$/, '').split('|');
  }

  const SCRIPT = ['/bin/busybox', 'sh', '/argv.sh'];

  it('runs the image ENTRYPOINT with its CMD when neither is given', async () => {
    expect(await argvOf('neither', {})).toEqual([...SCRIPT, 'from-entrypoint', 'from-cmd-1', 'from-cmd-2']);
  });

  it('keeps the ENTRYPOINT and replaces the CMD for args alone', async () => {
    expect(await argvOf('args', { args: ['arg-1', 'arg 2'] })).toEqual([
      ...SCRIPT,
      'from-entrypoint',
      'arg-1',
      'arg 2',
    ]);
  });

  it('replaces the ENTRYPOINT and drops the CMD for a command alone', async () => {
    expect(await argvOf('command', { command: [...SCRIPT, 'from-command'] })).toEqual([...SCRIPT, 'from-command']);
  });

  it('runs the command with the args when both are given', async () => {
    expect(await argvOf('both', { command: [...SCRIPT, 'from-command'], args: ['arg-1'] })).toEqual([
      ...SCRIPT,
      'from-command',
      'arg-1',
    ]);
  });
});
