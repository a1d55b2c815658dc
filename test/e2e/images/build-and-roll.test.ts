import { mkdir, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containersOf, removeInstanceContainers, runningContainersOf, testInstance } from '../../support/docker.js';
import {
  Api,
  httpdContext,
  imageManifest,
  imagesOf,
  readyCondition,
  removeInstanceImages,
  uniqueName,
} from '../../support/images.js';
import {
  eventually,
  projectManifest,
  request,
  runCli,
  startLuma,
  tempDir,
  writeConfig,
  type HttpAnswer,
  type LumaProcess,
} from '../../support/luma.js';

// SPEC §1 Image through a real `luma up` and the real CLI: an Image built from a
// directory next to its manifest is tagged from the hash of its files, so applying the
// same files again builds nothing, and a changed file builds a new tag that a warm
// project rolls onto without failing a single request.

describe('an Image built from a directory', () => {
  const instance = testInstance('img-roll');
  const name = uniqueName('web');
  const host = `${name}.localhost`;
  let luma: LumaProcess;
  let api: Api;
  let dir: string;
  let site: string;
  let manifest: string;

  beforeAll(async () => {
    dir = await tempDir('img-roll');
    await mkdir(path.join(dir, 'manifests'));
    const config = await writeConfig(dir, { resyncInterval: '1s', stopTimeout: '1s' });
    luma = await startLuma({
      stateDir: path.join(dir, 'state'),
      manifests: path.join(dir, 'manifests'),
      instance,
      config,
    });
    api = new Api(luma.api);
    site = await httpdContext(path.join(dir, 'app', 'site'), 'v1\n');
    manifest = path.join(dir, 'app', 'luma.yaml');
    // A warm project: one instance always runs, so a rebuild has to roll it.
    await writeFile(
      manifest,
      `${imageManifest(name, { context: './site' })}---\n${projectManifest(name, { image: name, hostnames: [host], minInstances: 1 })}`,
    );
  });

  afterAll(async () => {
    await luma?.stop();
    await removeInstanceContainers(instance);
    await removeInstanceImages(instance);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function apply(): Promise<string> {
    const result = await runCli(['apply', '-f', manifest], { api: luma.api });
    expect(result.code, result.stderr).toBe(0);
    return result.stdout;
  }

  async function readyTag(other?: string): Promise<string> {
    return eventually(
      async () => {
        const image = await api.image(name);
        return image.status?.phase === 'Ready' && image.status.image && image.status.image !== other
          ? image.status.image
          : undefined;
      },
      30_000,
      `image ${name} Ready${other ? ` with a tag other than ${other}` : ''}`,
    );
  }

  it('builds it, and applying the untouched directory again says unchanged and builds nothing', async () => {
    expect(await apply()).toBe(`image/${name} created\nproject/${name} created\n`);
    const tag = await readyTag();
    expect(tag).toMatch(new RegExp(`^luma/${instance}/${name}:[0-9a-f]+$`));
    const image = await api.image(name);
    expect(readyCondition(image)).toMatchObject({ status: 'True', reason: 'Built' });
    expect(image.status?.buildLog).toContain('Successfully tagged');
    expect(image.status?.buildDurationSeconds).toBeGreaterThan(0);
    const built = await imagesOf(instance, name);
    expect(built.map((info) => info.RepoTags)).toEqual([[`${tag}`]]);

    const answer = await eventually(
      async () => {
        const reply = await request(luma.proxyPort, host);
        return reply.status === 200 ? reply : undefined;
      },
      15_000,
      'the project answering',
    );
    expect(answer.body).toBe('v1\n');

    // The same files, with new times: nothing to do, and nothing is done.
    const now = new Date();
    for (const file of ['Dockerfile', 'busybox', 'www/index.html']) await utimes(path.join(site, file), now, now);
    expect(await apply()).toBe(`image/${name} unchanged\nproject/${name} unchanged\n`);
    // Several resyncs (1 s each) later: the same status, no new image, no new build output.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const after = await api.image(name);
    expect(after.status).toEqual(image.status);
    expect(after.metadata.resourceVersion).toBe(image.metadata.resourceVersion);
    expect((await imagesOf(instance, name)).map((info) => info.Id)).toEqual(built.map((info) => info.Id));
    const log = await runCli(['logs', `image/${name}`], { api: luma.api });
    expect(log.stdout).toBe(image.status?.buildLog);
  });

  it('rebuilds a changed file under a new tag, and the warm project rolls onto it with zero failed requests', async () => {
    const oldTag = (await api.image(name)).status?.image ?? '';
    await eventually(
      async () =>
        (await runningContainersOf(instance, name)).length === 1 &&
        (await api.project(name)).status?.phase === 'Running',
      15_000,
      'one warm instance',
    );
    const [oldContainer] = await runningContainersOf(instance, name);

    // Continuous traffic for the whole roll: one sequential client and three more in parallel.
    const answers: Array<Array<HttpAnswer | Error>> = [[], [], [], []];
    let stop = false;
    const loops = answers.map(async (log) => {
      while (!stop) log.push(await request(luma.proxyPort, host, '/', 10_000).catch((error: Error) => error));
    });
    await new Promise((resolve) => setTimeout(resolve, 500));

    await writeFile(path.join(site, 'www/index.html'), 'v2\n');
    expect(await apply()).toBe(`image/${name} configured\nproject/${name} unchanged\n`);
    const newTag = await readyTag(oldTag);
    expect(newTag).toMatch(new RegExp(`^luma/${instance}/${name}:[0-9a-f]+$`));
    await eventually(
      async () => answers[0]?.some((answer) => !(answer instanceof Error) && answer.body === 'v2\n'),
      20_000,
      'the new content served',
    );
    // Keep the traffic going while the old instance is drained and removed.
    await eventually(
      async () => (await containersOf(instance, name)).every((container) => container.Id !== oldContainer?.Id),
      15_000,
      'the old container removed',
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    stop = true;
    await Promise.all(loops);

    const all = answers.flat();
    const failures = all
      .filter((answer) => answer instanceof Error || answer.status !== 200)
      .map((answer) => (answer instanceof Error ? answer.message : `${answer.status} ${answer.body}`));
    expect(all.length).toBeGreaterThan(50);
    expect(failures).toEqual([]);
    const bodies = all.map((answer) => (answer as HttpAnswer).body);
    expect(new Set(bodies)).toEqual(new Set(['v1\n', 'v2\n']));
    // The sequential client never goes back to the old content once it has seen the new.
    const sequential = (answers[0] as HttpAnswer[]).map((answer) => answer.body);
    expect(sequential.slice(sequential.indexOf('v2\n'))).not.toContain('v1\n');

    // Afterwards: exactly one container, running the new image, and the project says so.
    const containers = await containersOf(instance, name);
    expect(containers.map((container) => [container.Image, container.State])).toEqual([[newTag, 'running']]);
    const project = await eventually(
      async () => {
        const current = await api.project(name);
        return current.status?.image === newTag ? current : undefined;
      },
      5_000,
      'project status on the new image',
    );
    expect(project.status).toMatchObject({ phase: 'Running', image: newTag, instances: { running: 1 } });
    expect((await request(luma.proxyPort, host)).body).toBe('v2\n');
  });

  it('keeps the builds its kept revisions run: all three here, v1 included', async () => {
    const previous = (await api.image(name)).status?.image ?? '';
    await writeFile(path.join(site, 'www/index.html'), 'v3\n');
    expect(await apply()).toContain(`image/${name} configured`);
    const tag = await readyTag(previous);
    await eventually(async () => (await request(luma.proxyPort, host)).body === 'v3\n', 20_000, 'v3 served');
    // Each build ran a revision of the project, and revisions are kept (ten by default)
    // with the images they need, so that a rollback finds them (docs/revisions.md); the
    // removal of builds past the history is the image reconciler's unit tests'.
    const tags = (await imagesOf(instance, name)).flatMap((info) => info.RepoTags ?? []);
    expect(tags.length).toBe(3);
    expect(tags).toEqual(expect.arrayContaining([previous, tag]));
    // Uploaded copies of the contexts stay in the state directory, one folder per digest.
    const stored = (await readdir(path.join(dir, 'state', 'contexts'))).filter((entry) => !entry.startsWith('.'));
    expect(stored.length).toBe(3);
  });
});
