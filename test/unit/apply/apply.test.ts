import { describe, expect, it } from 'vitest';
import { applyDocuments } from '../../../src/apply/apply.js';
import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import { ManifestError, parseManifests } from '../../../src/model/parse.js';
import type { FileStore } from '../../../src/store/file-store.js';
import { projectYaml, storeProject, useTempFileStore } from '../../support/temp-file-store.js';

let store: FileStore;
useTempFileStore('luma-apply-', (opened) => (store = opened));

describe('applyDocuments', () => {
  it('writes nothing when admission refuses the batch', async () => {
    await storeProject(store, 'a', ['a.example.com']);
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
    await storeProject(store, 'p7', ['old.example.com']);
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
