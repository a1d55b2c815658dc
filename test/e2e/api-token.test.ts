import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testInstance } from '../support/docker.js';
import { apiFetch, runCli, startLuma, tempDir, type LumaProcess } from '../support/luma.js';

// The API needs the token `luma up` makes at its first start; the CLI on the same machine
// finds it in the state directory, elsewhere it is given with --token / LUMA_TOKEN.

describe('the API token', () => {
  const instance = testInstance('token');
  let dir: string;
  let luma: LumaProcess;

  beforeAll(async () => {
    dir = await tempDir('token');
    await mkdir(path.join(dir, 'manifests'));
    luma = await startLuma({ stateDir: path.join(dir, 'state'), manifests: path.join(dir, 'manifests'), instance });
  });

  afterAll(async () => {
    await luma?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('is made at the first start, in the state directory, readable by its owner only', async () => {
    const info = await stat(path.join(dir, 'state', 'api-token'));
    expect(info.mode & 0o777).toBe(0o600);
    expect(info.uid).toBe(process.getuid?.());
    expect(luma.api.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('answers a request without a token, or with a wrong one, with 401 and a JSON error', async () => {
    const bare = await fetch(new URL('/api/v1alpha1/projects', luma.server));
    expect(bare.status).toBe(401);
    expect(await bare.json()).toEqual({
      error: 'Unauthorized',
      message: expect.stringContaining('this API needs a token: send "Authorization: Bearer TOKEN"'),
    });

    const wrong = await fetch(new URL('/api/v1alpha1/projects', luma.server), {
      headers: { authorization: `Bearer ${luma.api.token.slice(1)}x` },
    });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { message: string }).message).toContain('the API token is not valid');

    const refusedWrite = await fetch(new URL('/apply', luma.server), {
      method: 'POST',
      headers: { 'content-type': 'application/yaml' },
      body: 'apiVersion: luma.dev/v1alpha1\nkind: Project\nmetadata:\n  name: sneaky\nspec:\n  image: busybox\n  hostnames: [sneaky.localhost]\n',
    });
    expect(refusedWrite.status).toBe(401);
    expect(((await (await apiFetch(luma.api, '/api/v1alpha1/projects')).json()) as { items: unknown[] }).items).toEqual(
      [],
    );
  });

  it('keeps /healthz open', async () => {
    expect((await fetch(new URL('/healthz', luma.server))).status).toBe(200);
  });

  it('lets the CLI in through the state directory, --token or LUMA_TOKEN, and tells one without it what to do', async () => {
    expect((await runCli(['get', 'projects'], { api: luma.api })).code).toBe(0);
    const elsewhere = { LUMA_SERVER: luma.server, LUMA_STATE_DIR: path.join(dir, 'no-state-here') };
    expect((await runCli(['get', 'projects', '--token', luma.api.token], { env: elsewhere })).code).toBe(0);
    expect((await runCli(['get', 'projects'], { env: { ...elsewhere, LUMA_TOKEN: luma.api.token } })).code).toBe(0);

    const without = await runCli(['get', 'projects'], { env: elsewhere });
    expect(without.code).toBe(1);
    expect(without.stderr.trim()).toBe(
      `error: this API needs a token: send "Authorization: Bearer TOKEN"; the token is in STATE_DIR/api-token on the Luma host (the CLI reads it from --state-dir / LUMA_STATE_DIR, or takes --token / LUMA_TOKEN) (here: no token file at ${path.join(dir, 'no-state-here', 'api-token')})`,
    );
    const wrong = await runCli(['get', 'projects'], { env: { ...elsewhere, LUMA_TOKEN: 'nope' } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(
      /^error: the API token is not valid for this Luma .*\(here: the token given was refused\)$/m,
    );
  });
});
