import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyDocuments } from '../../../src/apply/apply.js';
import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import { ManifestError, parseManifests } from '../../../src/model/parse.js';
import { API_VERSION } from '../../../src/model/types.js';
import { FileStore } from '../../../src/store/file-store.js';

let stateDir: string;
let store: FileStore;

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'luma-apply-'));
  store = await FileStore.open(stateDir);
});

afterEach(async () => {
  await store.close();
  await rm(stateDir, { recursive: true, force: true });
});

function projectYaml(name: string, hostnames: string[]): string {
  return [
    `apiVersion: ${API_VERSION}`,
    'kind: Project',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  image: hello',
    '  hostnames:',
    ...hostnames.map((host) => `    - ${host}`),
    '',
  ].join('\n');
}

async function storeProject(name: string, hostnames: string[]): Promise<void> {
  await store.apply({
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name },
    spec: { image: 'hello', hostnames },
  });
}

describe('applyDocuments', () => {
  it('writes nothing when admission refuses the batch', async () => {
    await storeProject('a', ['a.example.com']);
    const documents = parseManifests(
      `${projectYaml('fresh', ['fresh.example.com'])}---\n${projectYaml('b', ['a.example.com'])}`,
      'x.yaml',
    );
    await expect(applyDocuments(store, documents, { settings: DEFAULT_SETTINGS })).rejects.toBeInstanceOf(
      ManifestError,
    );
    expect(store.list('Project').map((project) => project.metadata.name)).toEqual(['a']);
  });

  it('creates, then reports unchanged', async () => {
    const documents = parseManifests(projectYaml('web', ['web.example.com']), 'web.yaml');
    expect(
      (await applyDocuments(store, documents, { settings: DEFAULT_SETTINGS })).map((applied) => applied.result),
    ).toEqual(['created']);
    expect(
      (await applyDocuments(store, documents, { settings: DEFAULT_SETTINGS })).map((applied) => applied.result),
    ).toEqual(['unchanged']);
  });

  it('writes a batch at once and answers in document order', async () => {
    await storeProject('p7', ['old.example.com']);
    const names = Array.from({ length: 40 }, (_, index) => `p${39 - index}`);
    const text = names.map((name) => projectYaml(name, [`${name}.example.com`])).join('---\n');
    const applied = await applyDocuments(store, parseManifests(text, 'many.yaml'), { settings: DEFAULT_SETTINGS });
    expect(applied.map((object) => `${object.name} ${object.result}`)).toEqual(
      names.map((name) => `${name} ${name === 'p7' ? 'configured' : 'created'}`),
    );
    expect(store.get('Project', 'p7')?.spec.hostnames).toEqual(['p7.example.com']);
    expect(store.list('Project')).toHaveLength(40);
  });
});
