import { execFileSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeInstanceContainers, TEST_IMAGE, testInstance } from '../support/docker.js';
import {
  eventually,
  projectManifest,
  REPO_ROOT,
  runCli,
  startLuma,
  tempDir,
  type CliResult,
  type LumaProcess,
} from '../support/luma.js';

// Issue 24's kubectl conventions, each through the real `luma` binary against a real
// `luma up`: --version, apply --dry-run=client|server, get -o jsonpath / custom-columns,
// explain, delete -l, get sync; and bad input of each kind exits as docs/cli.md says.
// Projects here scale to zero and get no request: no container is ever started.

describe("kubectl's conventions", () => {
  const instance = testInstance('kubectl');
  let luma: LumaProcess;
  let dir: string;
  let manifests: string;

  beforeAll(async () => {
    dir = await tempDir('kubectl');
    manifests = path.join(dir, 'manifests');
    await mkdir(manifests);
    await writeFile(path.join(manifests, 'watched.yaml'), labelled('watched', 'gitops'));
    luma = await startLuma({ stateDir: path.join(dir, 'state'), manifests, instance });
  });

  afterAll(async () => {
    await luma?.stop();
    await removeInstanceContainers(instance);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function cli(...args: string[]): Promise<CliResult> {
    return runCli(args, { api: luma.api });
  }

  async function ok(...args: string[]): Promise<string> {
    const result = await cli(...args);
    expect(result.code, `luma ${args.join(' ')}: ${result.stderr}`).toBe(0);
    return result.stdout;
  }

  function labelled(name: string, app: string): string {
    const manifest = projectManifest(name, { image: TEST_IMAGE, hostnames: [`${name}.localhost`] });
    return manifest.replace(`  name: ${name}\n`, `  name: ${name}\n  labels:\n    app: ${app}\n`);
  }

  async function applyProject(name: string, app: string): Promise<void> {
    const file = path.join(dir, `${name}.yaml`);
    await writeFile(file, labelled(name, app));
    expect(await ok('apply', '-f', file)).toBe(`project/${name} created\n`);
  }

  it('--version prints the version and the commit the build was made from', async () => {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const result = await runCli(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(`^luma \\d+\\.\\d+\\.\\d+ \\(commit ${head}(, with uncommitted changes)?\\)\\n$`),
    );
    expect(JSON.parse(await ok('version', '-o', 'json'))).toMatchObject({ commit: head });
  });

  it('apply --dry-run=client needs no server; =server and bare --dry-run ask it; neither stores', async () => {
    const file = path.join(dir, 'dry.yaml');
    await writeFile(file, labelled('dry', 'dry'));
    const offline = await runCli(['apply', '-f', file, '--dry-run=client'], { server: 'http://127.0.0.1:9' });
    expect(offline).toMatchObject({ code: 0, stdout: 'project/dry checked (client dry run)\n' });
    expect(await ok('apply', '-f', file, '--dry-run=server')).toBe('project/dry created (dry run)\n');
    expect(await ok('apply', '-f', file, '--dry-run')).toBe('project/dry created (dry run)\n');
    expect((await cli('get', 'project', 'dry')).code).toBe(1);

    await writeFile(file, labelled('dry', 'dry').replace('maxInstances: 1', 'maxInstances: many'));
    const invalid = await runCli(['apply', '-f', file, '--dry-run=client'], { server: 'http://127.0.0.1:9' });
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/dry\.yaml:\d+:\d+: spec\.scaling\.maxInstances: /);
    const strategy = await cli('apply', '-f', file, '--dry-run=clinet');
    expect(strategy).toMatchObject({ code: 2 });
    expect(strategy.stderr).toContain('--dry-run: "clinet" is not a strategy (known: none, client, server)');
  });

  it('get -o jsonpath and -o custom-columns, on a list and on one object', async () => {
    await applyProject('shop', 'shop');
    await applyProject('blog', 'blog');
    const names = await ok('get', 'projects', '-o', 'jsonpath={.items[*].metadata.name}');
    expect(names.split(' ').sort()).toEqual(['blog', 'shop', 'watched']);
    expect(await ok('get', 'project', 'shop', '-o', 'jsonpath={.spec.hostnames[0]}')).toBe('shop.localhost');
    const ranged = await ok(
      'get',
      'projects',
      '-l',
      'app=blog',
      '-o',
      'jsonpath={range .items[*]}{.metadata.name}={.metadata.labels.app}{"\\n"}{end}',
    );
    expect(ranged).toBe('blog=blog\n');
    const columns = await ok(
      'get',
      'projects',
      '-l',
      'app in (shop,blog)',
      '-o',
      'custom-columns=NAME:.metadata.name,APP:.metadata.labels.app,MISSING:.spec.nothing',
    );
    const [header, ...rows] = columns
      .trimEnd()
      .split('\n')
      .map((line) => line.split(/\s+/).join(' '));
    expect(header).toBe('NAME APP MISSING');
    expect(rows.sort()).toEqual(['blog blog <none>', 'shop shop <none>']);
    const bad = await cli('get', 'projects', '-o', 'jsonpath={.items[');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unclosed "{"');
  });

  it('explain describes a field from the JSON Schema; an unknown one exits 2 naming the real ones', async () => {
    const text = await runCli(['explain', 'project.spec.scaling']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('KIND:       Project\nVERSION:    luma.dev/v1alpha1\n\nFIELD: scaling <object>');
    expect(text.stdout).toMatch(/\n {2}minInstances\t<integer>\n {4}\S/);
    const unknown = await runCli(['explain', 'project.spec.scalling']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('field "scalling" does not exist in project.spec (its fields: image, hostnames');
  });

  it('delete -l deletes exactly the objects the selector matches', async () => {
    await applyProject('old-a', 'old');
    await applyProject('old-b', 'old');
    await applyProject('keep', 'keep');
    const deleted = await ok('delete', 'projects', '-l', 'app==old,app!=keep');
    expect(
      deleted
        .trim()
        .split('\n')
        .map((line) => line.split(' ')[0])
        .sort(),
    ).toEqual(['project/old-a', 'project/old-b']);
    await eventually(async () => (await ok('get', 'projects', '-l', 'app=old', '-o', 'name')) === '');
    expect(await ok('get', 'project', 'keep', '-o', 'name')).toBe('project/keep\n');

    const none = await cli('delete', 'projects', '-l', 'app=nobody');
    expect(none).toMatchObject({ code: 0, stdout: '' });
    expect(none.stderr).toContain('No objects found matching app=nobody');
    const bad = await cli('delete', 'projects', '-l', 'app=a b');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid label selector "app=a b"');
    expect((await cli('delete', 'projects', '-l', '')).code).toBe(2);
  });

  it("get sync shows the watched directory's files and phase", async () => {
    await eventually(async () => (await ok('get', 'sync', '-o', 'jsonpath={.phase}')) === 'Synced');
    const table = await ok('get', 'sync');
    expect(table).toContain(`DIRECTORY: ${manifests}`);
    expect(table).toMatch(/PHASE: {5}Synced/);
    expect(table).toMatch(/\nFILE\s+STATE\s+OBJECTS\nwatched\.yaml\s+Applied\s+Project\/watched\n/);
    const status = JSON.parse(await ok('get', 'sync', '-o', 'json')) as {
      files: Array<{ file: string; state: string }>;
    };
    expect(status.files).toEqual([expect.objectContaining({ file: 'watched.yaml', state: 'Applied' })]);

    await writeFile(path.join(manifests, 'broken.yaml'), 'kind: Project\nmetadata: {name: 5}\n');
    await eventually(async () => (await ok('get', 'sync')).includes('Problems:'));
    expect(await ok('get', 'sync')).toMatch(/broken\.yaml\s+Invalid/);
    expect((await cli('get', 'sync', 'extra')).code).toBe(2);
  });
});
