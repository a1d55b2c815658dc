import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageObject } from '../../../src/model/types.js';
import { testInstance } from '../../support/docker.js';
import { startImagesLuma, stopImagesLuma } from '../../support/images-luma.js';
import {
  Api,
  HTTPD_DOCKERFILE,
  httpdContext,
  imageManifest,
  imagesOf,
  readyCondition,
  uniqueName,
  writeContext,
} from '../../support/images.js';
import {
  cliEnv,
  eventually,
  projectManifest,
  request,
  REPO_ROOT,
  runCli,
  type LumaProcess,
} from '../../support/luma.js';

// What users see when an image cannot be had: a broken Dockerfile is Failed with the
// failing step and is not retried until something changes; an unreachable ref says it
// cannot be pulled; a project waiting for its image is Pending and answers 503 with the
// reason; and build output streams to `luma logs image/NAME -f` while the build runs.

const BROKEN_RUN = 'RUN ["/bin/busybox", "false"]';

describe('image builds that fail, and build output', () => {
  const instance = testInstance('img-fail');
  const run = uniqueName('f');
  let luma: LumaProcess;
  let api: Api;
  let dir: string;

  beforeAll(async () => {
    ({ luma, api, dir } = await startImagesLuma('img-fail', instance));
  });

  afterAll(() => stopImagesLuma({ luma, dir }, instance));

  async function apply(file: string): Promise<string> {
    const result = await runCli(['apply', '-f', file], { api: luma.api });
    expect(result.code, result.stderr).toBe(0);
    return result.stdout;
  }

  async function phase(
    name: string,
    wanted: NonNullable<NonNullable<ImageObject['status']>['phase']>,
    timeoutMs = 30_000,
  ): Promise<ImageObject> {
    return eventually(
      async () => {
        const image = await api.image(name);
        return image.status?.phase === wanted ? image : undefined;
      },
      timeoutMs,
      `image ${name} ${wanted}`,
    );
  }

  it('a broken Dockerfile is Failed with the failing step, is not retried, and a fixed one builds', async () => {
    const name = `${run}-broken`;
    const site = await httpdContext(path.join(dir, 'broken', 'site'), 'fixed\n', {
      Dockerfile: HTTPD_DOCKERFILE.replace('COPY www /www', `COPY www /www\n${BROKEN_RUN}`),
    });
    const manifest = path.join(dir, 'broken', 'luma.yaml');
    await writeFile(
      manifest,
      `${imageManifest(name, { context: './site' })}---\n${projectManifest(name, { image: name, hostnames: [`${name}.localhost`] })}`,
    );
    await apply(manifest);

    const failed = await phase(name, 'Failed');
    expect(failed.status?.buildLog).toContain(BROKEN_RUN);
    expect(failed.status?.buildLog).toMatch(/returned a non-zero code: 1/);
    expect(readyCondition(failed)).toMatchObject({
      status: 'False',
      reason: 'BuildFailed',
      message: expect.stringMatching(/returned a non-zero code: 1/),
    });
    expect(failed.status?.image).toBeUndefined();

    // The project that runs it waits, says why, and its requests get 503 with that reason.
    // (It was already Pending while the image built; now it says the image failed.)
    const project = await eventually(
      async () => {
        const current = await api.project(name);
        return current.status?.phase === 'Pending' && readyCondition(current)?.message.includes('is Failed')
          ? current
          : undefined;
      },
      10_000,
      'project Pending because its image failed',
    );
    expect(readyCondition(project)).toMatchObject({
      status: 'False',
      reason: 'ImageNotReady',
      message: expect.stringContaining(`image "${name}" is Failed`),
    });
    expect(readyCondition(project)?.message).toMatch(/returned a non-zero code: 1/);
    const answer = await request(luma.proxyPort, `${name}.localhost`, '/', 5_000);
    expect(answer.status).toBe(503);
    expect(answer.body).toContain(`image "${name}" is Failed`);

    // Several resyncs (1 s each) later: no new attempt (no status write, same log, no image).
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    const later = await api.image(name);
    expect(later.metadata.resourceVersion).toBe(failed.metadata.resourceVersion);
    expect(later.status).toEqual(failed.status);
    expect((await runCli(['logs', `image/${name}`], { api: luma.api })).stdout).toBe(failed.status?.buildLog);
    expect(await imagesOf(instance, name)).toEqual([]);

    // Fixed: a new context, a new build, and the project serves it.
    await writeFile(path.join(site, 'Dockerfile'), HTTPD_DOCKERFILE);
    expect(await apply(manifest)).toContain(`image/${name} configured`);
    const ready = await phase(name, 'Ready');
    expect(readyCondition(ready)).toMatchObject({ status: 'True', reason: 'Built' });
    expect(ready.status?.buildLog).not.toContain(BROKEN_RUN);
    const served = await eventually(
      async () => {
        const reply = await request(luma.proxyPort, `${name}.localhost`);
        return reply.status === 200 ? reply : undefined;
      },
      15_000,
      'the fixed project answering',
    );
    expect(served.body).toBe('fixed\n');
  });

  it('a COPY of a missing file is Failed with the step and the file named', async () => {
    const name = `${run}-nocopy`;
    await writeContext(path.join(dir, 'nocopy', 'site'), {
      Dockerfile: 'FROM scratch\nCOPY busybox /bin/busybox\nCOPY not-in-the-context.txt /x\n',
    });
    const manifest = path.join(dir, 'nocopy', 'luma.yaml');
    await writeFile(manifest, imageManifest(name, { context: './site' }));
    await apply(manifest);
    const failed = await phase(name, 'Failed');
    expect(failed.status?.buildLog).toContain('COPY not-in-the-context.txt /x');
    expect(readyCondition(failed)).toMatchObject({
      status: 'False',
      reason: 'BuildFailed',
      message: expect.stringContaining('not-in-the-context.txt'),
    });
  });

  it('an unreachable ref is Failed with a message that says it cannot be pulled, and its project answers 503', async () => {
    const name = `${run}-ref`;
    const manifest = path.join(dir, 'ref.yaml');
    await writeFile(
      manifest,
      `${imageManifest(name, { ref: 'registry.invalid/nope:1' })}---\n${projectManifest(name, { image: name, hostnames: [`${name}.localhost`] })}`,
    );
    await apply(manifest);
    const failed = await phase(name, 'Failed');
    expect(readyCondition(failed)).toMatchObject({
      status: 'False',
      reason: 'PullFailed',
      message: expect.stringContaining('cannot pull registry.invalid/nope:1'),
    });
    const project = await eventually(
      async () => {
        const current = await api.project(name);
        return current.status?.phase === 'Pending' && readyCondition(current)?.message.includes('is Failed')
          ? current
          : undefined;
      },
      10_000,
      'project Pending because its image failed',
    );
    expect(readyCondition(project)).toMatchObject({
      status: 'False',
      reason: 'ImageNotReady',
      message: expect.stringContaining('cannot pull registry.invalid/nope:1'),
    });
    const answer = await request(luma.proxyPort, `${name}.localhost`, '/', 5_000);
    expect(answer.status).toBe(503);
    expect(answer.body).toContain('cannot pull registry.invalid/nope:1');
    // Not retried either.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect((await api.image(name)).metadata.resourceVersion).toBe(failed.metadata.resourceVersion);
  });

  it('`luma logs image/NAME -f` shows build lines while the build runs; meanwhile its project is Pending and answers 503', async () => {
    const name = `${run}-slow`;
    await httpdContext(path.join(dir, 'slow', 'site'), 'slow\n', {
      Dockerfile: HTTPD_DOCKERFILE.replace(
        'COPY www /www',
        'COPY www /www\nRUN ["/bin/busybox", "sh", "-c", "echo first-line; sleep 3; echo second-line"]',
      ),
    });
    const manifest = path.join(dir, 'slow', 'luma.yaml');
    await writeFile(
      manifest,
      `${imageManifest(name, { context: './site' })}---\n${projectManifest(name, { image: name, hostnames: [`${name}.localhost`] })}`,
    );
    await apply(manifest);
    await phase(name, 'Building', 10_000);

    // Follow the build with the real CLI, noting when each piece of output arrives.
    const started = Date.now();
    const follower = spawn(
      process.execPath,
      [path.join(REPO_ROOT, 'dist/cli/main.js'), 'logs', `image/${name}`, '-f'],
      {
        env: { ...process.env, ...cliEnv(luma.api) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    const seen: Record<string, number> = {};
    follower.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      for (const marker of ['first-line', 'second-line'])
        if (seen[marker] === undefined && stdout.includes(`\n${marker}`)) seen[marker] = Date.now() - started;
    });
    follower.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number>((resolve) => follower.once('close', (code) => resolve(code ?? -1)));

    // While it builds, the project waits for it and says so.
    await eventually(async () => seen['first-line'] !== undefined, 10_000, '"first-line" in the followed output');
    expect(seen['second-line']).toBeUndefined();
    const project = await eventually(
      async () => {
        const current = await api.project(name);
        return readyCondition(current)?.message.includes('is Building') ? current : undefined;
      },
      2_000,
      'project waiting for the build',
    );
    expect(project.status?.phase).toBe('Pending');
    expect(readyCondition(project)).toMatchObject({
      status: 'False',
      reason: 'ImageNotReady',
      message: expect.stringContaining(`image "${name}" is Building`),
    });
    const waiting = await request(luma.proxyPort, `${name}.localhost`, '/', 5_000);
    expect(waiting.status).toBe(503);
    expect(waiting.body).toContain(`image "${name}" is Building`);

    // -f ends by itself when the build ends.
    const code = await exited;
    const ended = Date.now() - started;
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('Successfully tagged');
    const first = seen['first-line'] ?? Infinity;
    const second = seen['second-line'] ?? Infinity;
    // "first" was shown about 3 s before "second", and before the command ended: live, not at the end.
    expect(second - first).toBeGreaterThan(2_000);
    expect(ended - first).toBeGreaterThan(2_000);
    await phase(name, 'Ready', 10_000);
    // The project follows its image within moments (its own reconcile re-deploys the route).
    const served = await eventually(
      async () => {
        const reply = await request(luma.proxyPort, `${name}.localhost`);
        return reply.status === 200 ? reply : undefined;
      },
      10_000,
      'the project answering once its image is Ready',
    );
    expect(served.body).toBe('slow\n');
  });
});
