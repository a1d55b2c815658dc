import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { containersOf, TEST_IMAGE } from '../support/docker.js';
import { apiFetch, eventually, request, runCli } from '../support/luma.js';
import { lumaUpFor } from '../support/luma-up-fixture.js';

// A secret's value reaches the container's environment and nothing else: not a file of the
// state directory, not any output of the CLI, not an answer or stream of the API, not a
// line of Luma's own log (at its most talkative level).

const VALUE = 'opal-quartz-5c1e9d7a';
const CHANGED = 'basalt-mica-8b2f4e60';
const HOST = 'vault.localhost';

/** Every way the values could be written down: as text and in base64. */
const FORMS = [VALUE, CHANGED].flatMap((value) => [value, Buffer.from(value).toString('base64')]);

function expectNoValue(text: string, where: string): void {
  for (const form of FORMS) expect(text.includes(form), `${where} holds "${form}"`).toBe(false);
}

const PROJECT = `apiVersion: luma.dev/v1alpha1
kind: Project
metadata:
  name: vault
spec:
  image: ${TEST_IMAGE}
  hostnames: [${HOST}]
  env:
    MODE: demo
    DB_PASSWORD:
      valueFrom:
        secretKeyRef: {name: db, key: password}
  scaling: {minInstances: 0, maxInstances: 1, idleTimeout: 60s}
`;

function secretManifest(value: string): string {
  return `apiVersion: luma.dev/v1alpha1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: ${value}\n`;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

describe('secrets', () => {
  // The watched directory holds the reference; the value is given through the CLI.
  const fixture = lumaUpFor(
    'secret',
    { resyncInterval: '1s', stopTimeout: '1s' },
    { manifests: { 'vault.yaml': PROJECT }, env: { LUMA_LOG_LEVEL: 'trace' } },
  );
  const { instance } = fixture;
  const cliOutputs: Array<[string, string]> = [];

  async function cli(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
    const result = await runCli(args, { api: fixture.luma.api, ...(stdin !== undefined ? { stdin } : {}) });
    cliOutputs.push([`luma ${args.join(' ')}`, result.stdout + result.stderr]);
    return result;
  }

  async function envOfApp(): Promise<string> {
    return (await request(fixture.luma.proxyPort, HOST, '/cgi-bin/env')).body;
  }

  it('holds a project whose secret is missing with a condition that names it, and starts it once it exists', async () => {
    await eventually(
      async () => (await cli(['get', 'project', 'vault', '-o', 'json'])).stdout.includes('SecretNotFound'),
      20_000,
      'the SecretNotFound condition',
    );
    const described = await cli(['describe', 'project', 'vault']);
    expect(described.stdout).toMatch(/secret "db" does not exist/);

    const created = await cli(['create', 'secret', 'generic', 'db', `--from-literal=password=${VALUE}`]);
    expect(created).toMatchObject({ code: 0, stdout: 'secret/db created\n' });
    await eventually(async () => (await envOfApp()).includes(`DB_PASSWORD=${VALUE}`), 30_000, 'the value served');
    expect(await envOfApp()).toContain('MODE=demo');
  });

  it('rolls the containers when the secret changes, and leaves them when it is applied unchanged', async () => {
    const [before] = await containersOf(instance, 'vault');
    const again = await cli(['create', 'secret', 'generic', 'db', `--from-literal=password=${VALUE}`]);
    expect(again.stdout).toBe('secret/db unchanged\n');
    const changed = await cli(['apply', '-f', '-'], secretManifest(CHANGED));
    expect(changed.stdout).toContain('secret/db configured');
    await eventually(async () => (await envOfApp()).includes(`DB_PASSWORD=${CHANGED}`), 30_000, 'the new value');
    await eventually(
      async () => !(await containersOf(instance, 'vault')).some((container) => container.Id === before?.Id),
      20_000,
      'the old container replaced',
    );
  });

  it('shows keys with a digest in every CLI output, never a value', async () => {
    const wide = await cli(['get', 'secrets', '-o', 'wide']);
    expect(wide.stdout).toMatch(/db\s+Opaque\s+1\s+\S+\s+password=hmac-sha256:[0-9a-f]{16}/);
    const yaml = await cli(['get', 'secret', 'db', '-o', 'yaml']);
    expect(yaml.stdout).toMatch(/digest: hmac-sha256:[0-9a-f]{16}/);
    expect(yaml.stdout).not.toContain('sealed');
    await cli(['get', 'secret', 'db', '-o', 'json']);
    await cli(['get', 'secret', 'db', '-o', 'jsonpath={.spec.data}']);
    await cli(['get', 'secrets', '-o', 'custom-columns=NAME:.metadata.name,DATA:.spec.data']);
    await cli(['get', 'secret', 'db']);
    await cli(['describe', 'secret', 'db']);
    const project = await cli(['describe', 'project', 'vault']);
    expect(project.stdout).toMatch(/DB_PASSWORD: secret\/db key password: set hmac-sha256:[0-9a-f]{16}/);
    await cli(['get', 'project', 'vault', '-o', 'yaml']);
    const file = path.join(fixture.dir, 'db.yaml');
    await writeFile(file, secretManifest(VALUE));
    const diff = await cli(['diff', '-f', file]);
    expect(diff.stdout).toMatch(/digest/);
    await cli(['apply', '--dry-run=server', '-f', file]);
    await cli(['events']);
    await cli(['logs', 'project/vault', '--tail', '100']);
    for (const [command, output] of cliOutputs) expectNoValue(output, command);
  });

  it('answers every API route and stream without a value', async () => {
    const answers: Array<[string, string]> = [];
    for (const route of ['/api/v1alpha1/secrets', '/api/v1alpha1/secrets/db', '/api/v1alpha1/projects/vault']) {
      const response = await apiFetch(fixture.luma.api, route);
      expect(response.status).toBe(200);
      answers.push([route, await response.text()]);
    }
    const applied = await apiFetch(fixture.luma.api, '/apply?dryRun=true', {
      method: 'POST',
      headers: { 'content-type': 'application/yaml' },
      body: secretManifest(VALUE),
    });
    answers.push(['POST /apply (dry run)', await applied.text()]);
    const put = await apiFetch(fixture.luma.api, '/api/v1alpha1/secrets/db', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        apiVersion: 'luma.dev/v1alpha1',
        kind: 'Secret',
        metadata: { name: 'db' },
        stringData: { password: CHANGED },
      }),
    });
    expect(put.status).toBe(200);
    answers.push(['PUT /secrets/db', await put.text()]);
    answers.push(['watch', await watchUntilSynced('/api/v1alpha1/secrets?watch=true')]);
    answers.push(['events', await (await apiFetch(fixture.luma.api, '/api/v1alpha1/events')).text()]);
    expect(answers[1]?.[1]).toMatch(/"digest":"hmac-sha256:[0-9a-f]{16}"/);
    for (const [route, text] of answers) expectNoValue(text, route);
  });

  it('refuses a bad value or a Secret of the wrong shape, naming the key, never quoting the value', async () => {
    const put = async (body: unknown): Promise<[number, string]> => {
      const response = await apiFetch(fixture.luma.api, '/api/v1alpha1/secrets/db', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return [response.status, await response.text()];
    };
    const secret = (fields: Record<string, unknown>): unknown => ({
      apiVersion: 'luma.dev/v1alpha1',
      kind: 'Secret',
      metadata: { name: 'db' },
      ...fields,
    });
    const nul = await put(secret({ stringData: { password: `${VALUE}\0x` } }));
    expect(nul[0]).toBe(422);
    expect(nul[1]).toMatch(/the value of key \\?"password\\?" holds a NUL byte/);
    const shapes = [
      nul,
      await put(secret({ stringData: `password:${VALUE}` })),
      await put(secret({ stringData: { [`password=${VALUE}`]: 'x' } })),
      await put(`password=${VALUE}`),
    ];
    for (const [status, text] of shapes) {
      expect([400, 422]).toContain(status);
      expectNoValue(text, 'a refused PUT');
    }
  });

  it('keeps no value in any file of the state directory, nor in its own log', async () => {
    const files = await filesUnder(path.join(fixture.dir, 'state'));
    expect(files.some((file) => file.endsWith(path.join('secret', 'db.json')))).toBe(true);
    for (const file of files) expectNoValue((await readFile(file)).toString('latin1'), file);
    expect(fixture.luma.output()).toContain('"level":20'); // debug lines were written: the check saw the most Luma says
    expectNoValue(fixture.luma.output(), "Luma's log");
  });

  it('refuses a Secret in the watched directory, which lives in Git', async () => {
    await writeFile(
      path.join(fixture.dir, 'manifests', 'leak.yaml'),
      secretManifest('from-git').replace('name: db', 'name: leak'),
    );
    await eventually(
      async () => (await cli(['get', 'sync', '-o', 'json'])).stdout.includes('luma create secret generic'),
      20_000,
      'the refusal in the sync status',
    );
    expect((await cli(['get', 'secret', 'leak'])).code).not.toBe(0);
  });

  async function watchUntilSynced(route: string): Promise<string> {
    const abort = new AbortController();
    const response = await apiFetch(fixture.luma.api, route, { signal: abort.signal });
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('SYNCED')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
    abort.abort();
    return text;
  }
});
