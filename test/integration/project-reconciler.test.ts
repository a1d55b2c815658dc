import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProjectReconciler } from '../../src/controller/project-reconciler.js';
import { parseManifests } from '../../src/model/parse.js';
import { ProxyServer } from '../../src/proxy/proxy-server.js';
import { DockerRuntime } from '../../src/runtime/docker-runtime.js';
import { FileStore } from '../../src/store/file-store.js';
import { silentLogger } from '../../src/util/logger.js';
import { buildTestImage, containersOf, removeInstanceContainers, TEST_IMAGE, testInstance } from '../support/docker.js';
import { projectManifest, tempDir } from '../support/luma.js';

// The project reconciler on the real engine: it converges, and a second reconcile of a
// converged project makes no Docker change at all.

describe('ProjectReconciler against Docker', () => {
  const instance = testInstance('recon');
  const runtime = new DockerRuntime({ instance });
  const proxy = new ProxyServer();
  let store: FileStore;
  let reconciler: ProjectReconciler;

  beforeAll(async () => {
    await buildTestImage();
    store = await FileStore.open(await tempDir('recon'));
    reconciler = new ProjectReconciler({
      store,
      runtime,
      proxy,
      logger: silentLogger(),
      publicUrl: (host) => `http://${host}/`,
    });
  });

  afterAll(async () => {
    await store.close();
    await removeInstanceContainers(instance);
  });

  async function apply(manifest: string): Promise<void> {
    for (const doc of parseManifests(manifest, 'test.yaml')) await store.apply(doc.object);
  }

  async function dockerChangesDuring(action: () => Promise<unknown>): Promise<string[]> {
    const actions: string[] = [];
    const stop = runtime.watchChanges((_owner, action) => actions.push(action));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await action();
    await new Promise((resolve) => setTimeout(resolve, 500));
    stop();
    return actions;
  }

  it('starts a warm project once; reconciling again changes nothing', async () => {
    await apply(projectManifest('steady', { image: TEST_IMAGE, hostnames: ['steady.localhost'], minInstances: 1 }));
    await reconciler.reconcile('steady');
    const first = await containersOf(instance, 'steady');
    expect(first.map((container) => container.State)).toEqual(['running']);
    expect(store.get('Project', 'steady')?.status?.phase).toBe('Running');
    expect((await proxy.getService('steady'))?.targets).toHaveLength(1);

    const changes = await dockerChangesDuring(() => reconciler.reconcile('steady'));
    expect(changes).toEqual([]);
    expect((await containersOf(instance, 'steady')).map((container) => container.Id)).toEqual(
      first.map((container) => container.Id),
    );
  });

  it('leaves a cold project with no container; reconciling again changes nothing', async () => {
    await apply(projectManifest('coldrec', { image: TEST_IMAGE, hostnames: ['coldrec.localhost'] }));
    await reconciler.reconcile('coldrec');
    expect(await containersOf(instance, 'coldrec')).toEqual([]);
    expect(store.get('Project', 'coldrec')?.status?.phase).toBe('Idle');
    expect(await dockerChangesDuring(() => reconciler.reconcile('coldrec'))).toEqual([]);
  });

  it('reports a missing image as Failed with ImageNotFound and creates nothing', async () => {
    await apply(
      projectManifest('noimage', {
        image: 'luma-test/missing:never',
        hostnames: ['noimage.localhost'],
        minInstances: 1,
      }),
    );
    const result = await reconciler.reconcile('noimage');
    expect(result).toMatchObject({ requeueAfterMs: expect.any(Number) });
    const status = store.get('Project', 'noimage')?.status;
    expect(status?.phase).toBe('Failed');
    expect(status?.conditions?.find((condition) => condition.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ImageNotFound',
    });
    expect(await containersOf(instance, 'noimage')).toEqual([]);
    expect((await proxy.getService('noimage'))?.unavailableReason).toMatch(/luma-test\/missing:never/);
  });
});
