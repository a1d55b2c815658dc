import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyDocuments, checkAdmission, parseFiles } from '../../../src/apply/apply.js';
import { ManifestError, parseManifests, type ManifestIssue } from '../../../src/model/parse.js';
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
  await store.apply({ apiVersion: API_VERSION, kind: 'Project', metadata: { name }, spec: { image: 'hello', hostnames } });
}

function issuesOf(fn: () => unknown): ManifestIssue[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ManifestError) return error.issues;
    throw error;
  }
  throw new Error('expected a ManifestError');
}

describe('checkAdmission', () => {
  it('refuses a hostname another project owns, with the file, line, column and path of the hostname', async () => {
    await storeProject('a', ['a.example.com']);
    const documents = parseManifests(projectYaml('b', ['b.example.com', 'a.example.com']), 'apps/b.yaml');
    const issues = issuesOf(() => checkAdmission(store, documents));
    expect(issues).toEqual([
      {
        file: 'apps/b.yaml',
        line: 9,
        column: 7,
        path: 'spec.hostnames[1]',
        message: 'hostname "a.example.com" is already routed to project "a"; hostnames must be unique across projects',
      },
    ]);
  });

  it('lets a project keep its own hostnames on update', async () => {
    await storeProject('a', ['a.example.com', 'www.example.com']);
    expect(() => checkAdmission(store, parseManifests(projectYaml('a', ['a.example.com', 'www.example.com']), 'a.yaml'))).not.toThrow();
  });

  it('judges against the store as it will be after the batch: a hostname may move between projects in one apply', async () => {
    await storeProject('a', ['shared.example.com']);
    const documents = parseManifests(`${projectYaml('a', ['a.example.com'])}---\n${projectYaml('b', ['shared.example.com'])}`, 'all.yaml');
    expect(() => checkAdmission(store, documents)).not.toThrow();
  });

  it('refuses two projects of one batch claiming the same hostname, at the second', () => {
    const documents = parseFiles([
      { path: 'one.yaml', content: projectYaml('one', ['same.example.com']) },
      { path: 'two.yaml', content: projectYaml('two', ['other.example.com', 'same.example.com']) },
    ]);
    const issues = issuesOf(() => checkAdmission(store, documents));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ file: 'two.yaml', line: 9, path: 'spec.hostnames[1]' });
    expect(issues[0]?.message).toContain('already routed to project "one"');
  });

  it('refuses the same object declared twice in one batch, pointing at both', () => {
    const documents = parseFiles([
      { path: 'first.yaml', content: projectYaml('web', ['web.example.com']) },
      { path: 'second.yaml', content: `# a comment\n${projectYaml('web', ['web.example.com'])}` },
    ]);
    const issues = issuesOf(() => checkAdmission(store, documents));
    expect(issues).toEqual([
      {
        file: 'second.yaml',
        line: 5,
        column: 9,
        path: 'metadata.name',
        message: 'Project/web is declared twice in this apply (also at first.yaml:4:9)',
      },
    ]);
  });

  it('allows the same name for objects of different kinds', () => {
    const image = `apiVersion: ${API_VERSION}\nkind: Image\nmetadata:\n  name: web\nspec:\n  ref: hello:latest\n`;
    const documents = parseManifests(`${image}---\n${projectYaml('web', ['web.example.com'])}`, 'web.yaml');
    expect(() => checkAdmission(store, documents)).not.toThrow();
  });

  it('reports every problem of the batch at once', async () => {
    await storeProject('a', ['a.example.com']);
    const documents = parseManifests(`${projectYaml('b', ['a.example.com'])}---\n${projectYaml('b', ['b.example.com'])}`, 'b.yaml');
    const issues = issuesOf(() => checkAdmission(store, documents));
    expect(issues.map((issue) => issue.path).sort()).toEqual(['metadata.name', 'spec.hostnames[0]']);
  });
});

describe('applyDocuments', () => {
  it('writes nothing when admission refuses the batch', async () => {
    await storeProject('a', ['a.example.com']);
    const documents = parseManifests(`${projectYaml('fresh', ['fresh.example.com'])}---\n${projectYaml('b', ['a.example.com'])}`, 'x.yaml');
    await expect(applyDocuments(store, documents)).rejects.toBeInstanceOf(ManifestError);
    expect(store.list('Project').map((project) => project.metadata.name)).toEqual(['a']);
  });

  it('creates, then reports unchanged', async () => {
    const documents = parseManifests(projectYaml('web', ['web.example.com']), 'web.yaml');
    expect((await applyDocuments(store, documents)).map((applied) => applied.result)).toEqual(['created']);
    expect((await applyDocuments(store, documents)).map((applied) => applied.result)).toEqual(['unchanged']);
  });
});
