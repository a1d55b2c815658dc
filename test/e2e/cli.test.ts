import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../support/docker.js';
import { httpdContext, imageManifest, uniqueName } from '../support/images.js';
import { eventually, projectManifest, request, runCli, type CliResult } from '../support/luma.js';
import { lumaUpFor } from '../support/luma-up-fixture.js';

// Issue 6, the CLI half, through a real `luma up` and the real `luma` binary: apply is
// idempotent and a removed field is removed from the container; diff's exit codes; wait;
// and a walkthrough of apply --wait, get, describe, events, diff, wait and delete.

describe('the kubectl-grade CLI', () => {
  const up = lumaUpFor('cli', { resyncInterval: '1s', stopTimeout: '1s' }, { removeImages: true });

  function cli(...args: string[]): Promise<CliResult> {
    return runCli(args, { api: up.luma.api });
  }

  async function ok(...args: string[]): Promise<string> {
    const result = await cli(...args);
    expect(result.code, `luma ${args.join(' ')}: ${result.stderr}`).toBe(0);
    return result.stdout;
  }

  // Each test drives ten or more CLI processes and real containers: on a 2-core machine
  // shared with other suites that can take well over vitest's e2e default.
  const SLOW_MACHINE_MS = 240_000;
  /** What `luma wait` is given: the acceptance's 30 s, stretched for a loaded machine (it returns as soon as Ready). */
  const READY_TIMEOUT = '120s';

  it(
    'apply twice says unchanged; removing env from the manifest removes it from the container; diff exits 0, 1 and 2',
    async () => {
      const file = path.join(up.dir, 'greeter.yaml');
      const host = 'greeter.localhost';
      const manifest = (env?: Record<string, string>): string =>
        projectManifest('greeter', { image: TEST_IMAGE, hostnames: [host], minInstances: 1, ...(env ? { env } : {}) });
      await writeFile(file, manifest({ GREETING: 'hello' }));

      expect(await ok('apply', '-f', file)).toBe('project/greeter created\n');
      expect(await ok('apply', '-f', file)).toBe('project/greeter unchanged\n');
      expect(await ok('wait', '--for=condition=Ready', 'project/greeter', '--timeout', READY_TIMEOUT)).toBe(
        'project/greeter condition met\n',
      );
      expect((await request(up.luma.proxyPort, host, '/cgi-bin/env')).body).toContain('GREETING=hello');

      const same = await cli('diff', '-f', file);
      expect(same).toMatchObject({ code: 0, stdout: '' });

      await writeFile(file, manifest());
      const changed = await cli('diff', '-f', file);
      expect(changed.code, changed.stderr).toBe(1);
      expect(changed.stdout).toContain('--- live/project/greeter\n+++ manifest/project/greeter\n');
      expect(changed.stdout).toContain('-  env:\n-    GREETING: hello\n');
      expect(changed.stdout.split('\n').filter((line) => line.startsWith('+') && !line.startsWith('+++'))).toEqual([]);
      expect(await ok('apply', '-f', file, '--dry-run')).toBe('project/greeter configured (dry run)\n');

      expect(await ok('apply', '-f', file)).toBe('project/greeter configured\n');
      expect(await ok('wait', '--for=condition=Ready', 'project/greeter', '--timeout', READY_TIMEOUT)).toBe(
        'project/greeter condition met\n',
      );
      await eventually(
        async () => !(await request(up.luma.proxyPort, host, '/cgi-bin/env')).body.includes('GREETING='),
        30_000,
        'the container without GREETING',
      );
      const broken = path.join(up.dir, 'broken.yaml');
      await writeFile(broken, manifest().replace('minInstances: 1', 'minInstances: lots'));
      const failed = await cli('diff', '-f', broken);
      expect(failed.code).toBeGreaterThanOrEqual(2);
      expect(failed.stderr).toMatch(/broken\.yaml:\d+:\d+: spec\.scaling\.minInstances/);

      expect(await ok('delete', 'project', 'greeter')).toMatch(/^project\/greeter delet/);
    },
    SLOW_MACHINE_MS,
  );

  it(
    'wait returns non-zero with a message when the time runs out, and at once for an object that does not exist',
    async () => {
      const file = path.join(up.dir, 'slow.yaml');
      // Listens only after 30 s: Ready cannot come within the 1 s the wait allows.
      const slow = ['/bin/busybox', 'sh', '-c', 'sleep 30; exec /bin/busybox httpd -f -p 8080 -h /www'];
      await writeFile(
        file,
        projectManifest('slow', {
          image: TEST_IMAGE,
          hostnames: ['slow.localhost'],
          minInstances: 1,
          command: slow,
          startupTimeout: '60s',
        }),
      );
      await ok('apply', '-f', file);
      const timedOut = await cli('wait', '--for=condition=Ready', 'project/slow', '--timeout', '1s');
      expect(timedOut.code).toBe(3);
      expect(timedOut.stderr).toMatch(/^error: timed out after 1s waiting for project\/slow to be Ready/);

      const missing = await cli('wait', '--for=condition=Ready', 'project/nothing-here', '--timeout', '30s');
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('project/nothing-here not found');
      await ok('delete', '-f', file);
    },
    SLOW_MACHINE_MS,
  );

  it(
    'walkthrough: apply --wait, get -o wide and -l, describe, events, diff, wait and delete',
    async () => {
      const name = uniqueName('shop');
      const host = `${name}.localhost`;
      await httpdContext(path.join(up.dir, 'shop', 'site'), 'shop v1\n');
      const file = path.join(up.dir, 'shop', 'up.luma.yaml');
      const project = projectManifest(name, { image: name, hostnames: [host] }).replace(
        `  name: ${name}\n`,
        `  name: ${name}\n  labels:\n    tier: web\n`,
      );
      await writeFile(file, `${imageManifest(name, { context: './site' })}---\n${project}`);

      // A dry run validates, reports and uploads nothing; the real apply waits until Ready.
      expect(await ok('apply', '-f', file, '--dry-run')).toBe(
        `image/${name} created (dry run)\nproject/${name} created (dry run)\n`,
      );
      const applied = await ok('apply', '-f', file, '--wait', '--timeout', READY_TIMEOUT);
      expect(applied).toMatch(new RegExp(`^image/${name} created\nproject/${name} created\n`));
      expect(applied).toContain(`image/${name}: Ready\n`);
      expect(applied).toContain(`project/${name}: Ready\n`);
      expect(applied).toMatch(new RegExp(`image/${name}: (Pending|Building)`)); // a progress line before Ready

      const wide = (await ok('get', 'projects', '-o', 'wide')).split('\n');
      expect(wide[0]).toMatch(/^NAME\s+READY\s+STATUS\s+AGE\s+HOSTNAMES\s+IMAGE\s+URL$/);
      expect(wide.find((line) => line.startsWith(name))).toMatch(
        new RegExp(`^${name}\\s+0/1\\s+Idle\\s+\\d+s\\s+${host}\\s+luma/\\S+\\s+http://${host}:${up.luma.proxyPort}/$`),
      );
      expect(await ok('get', 'projects', '-l', 'tier=web', '-o', 'name')).toBe(`project/${name}\n`);

      expect((await request(up.luma.proxyPort, host)).body).toBe('shop v1\n');
      await ok('wait', '--for=condition=Ready', `project/${name}`, `image/${name}`, '--timeout', READY_TIMEOUT);

      const described = await ok('describe', 'project', name);
      expect(described).toContain(`Name:         ${name}\n`);
      expect(described).toContain('Labels:       tier=web\n');
      expect(described).toMatch(/Conditions:\n {2}TYPE\s+STATUS\s+REASON\s+SINCE\s+MESSAGE\n {2}Ready\s+True\s+\w+/);
      expect(described).toMatch(/\n {2}Reconciling\s+False\s/);
      expect(described).toMatch(/\n {2}Stalled\s+False\s/);
      expect(described).toMatch(/Events:\n {2}TYPE\s+REASON\s+AGE\s+FROM\s+MESSAGE\n {2}Normal\s+/);

      const events = (await ok('events')).split('\n');
      expect(events[0]).toMatch(/^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+COUNT\s+MESSAGE$/);
      expect(events.some((line) => new RegExp(`Normal\\s+\\w+\\s+image/${name}\\s+\\d+\\s`).test(line))).toBe(true);
      const own = (await ok('events', `project/${name}`))
        .split('\n')
        .slice(1)
        .filter((line) => line !== '');
      expect(own.length).toBeGreaterThan(0);
      for (const line of own) expect(line).toContain(`project/${name}`);

      // The context is compared by digest, computed locally: an untouched directory is no change.
      expect(await cli('diff', '-f', file)).toMatchObject({ code: 0, stdout: '' });
      await httpdContext(path.join(up.dir, 'shop', 'site'), 'shop v2\n');
      const changed = await cli('diff', '-f', file);
      expect(changed.code).toBe(1);
      expect(changed.stdout).toMatch(
        /-\s+luma\.dev\/context-digest: sha256:\w+\n\+\s+luma\.dev\/context-digest: sha256:\w+/,
      );

      const deleted = await ok('delete', '-f', file);
      expect(deleted).toMatch(new RegExp(`^image/${name} delet.*\nproject/${name} delet`));
      const waited = await ok('wait', '--for=delete', `project/${name}`, `image/${name}`, '--timeout', READY_TIMEOUT);
      expect(
        waited
          .split('\n')
          .filter((line) => line !== '')
          .sort(),
      ).toEqual([`image/${name} deleted`, `project/${name} deleted`]);
      const gone = await cli('get', 'projects', '-l', 'tier=web');
      expect(gone).toMatchObject({ code: 0, stdout: '' });
      expect(gone.stderr).toBe('No project found matching tier=web.\n');
    },
    SLOW_MACHINE_MS,
  );
});
