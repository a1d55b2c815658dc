import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../support/browser.js';
import { removeInstanceContainers, testInstance } from '../../support/docker.js';
import {
  Api,
  httpdContext,
  imageManifest,
  removeInstanceImages,
  uniqueName,
  writeContext,
} from '../../support/images.js';
import {
  eventually,
  projectManifest,
  request,
  runCli,
  startLuma,
  tempDir,
  type LumaProcess,
} from '../../support/luma.js';

// Issue 20's acceptance, in Debian's headless Chromium against a real `luma up`: sign-in
// (pasted token and a `luma console` link), a project pushed from Idle to Running by the
// watch, a logged line in the log viewer, a lease from the form with its countdown and
// bill, a bad manifest refused in Apply, and no data without a session.
// LUMA_CONSOLE_SCREENSHOTS=DIR also saves each view, desktop and 375 px wide, light and
// dark, into DIR.

const LOG_CGI = {
  content: [
    '#!/bin/busybox sh',
    'printf "console-log: %s\\n" "$QUERY_STRING" >&2',
    'printf "Content-Type: text/plain\\r\\n\\r\\n"',
    'echo "logged $QUERY_STRING"',
    '',
  ].join('\n'),
  mode: 0o755,
};
const SCREENSHOTS = process.env.LUMA_CONSOLE_SCREENSHOTS;

describe('the web console in Chromium', () => {
  const instance = testInstance('console');
  const image = uniqueName('consoleapp');
  let luma: LumaProcess;
  let api: Api;
  let dir: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    dir = await tempDir('console');
    await mkdir(path.join(dir, 'manifests'));
    const config = path.join(dir, 'config.yaml');
    await writeFile(
      config,
      [
        'resyncInterval: 1s',
        'stopTimeout: 1s',
        'prices:',
        '  vcpuSecond: 0.001',
        '  gibSecond: 0.0005',
        '  currency: EUR',
        '',
      ].join('\n'),
    );
    luma = await startLuma({
      stateDir: path.join(dir, 'state'),
      manifests: path.join(dir, 'manifests'),
      instance,
      config,
    });
    api = new Api(luma.api);
    await httpdContext(path.join(dir, 'app', 'site'), 'hi\n', { 'www/cgi-bin/log': LOG_CGI });
    const manifest = path.join(dir, 'app', 'luma.yaml');
    await writeFile(
      manifest,
      imageManifest(image, { context: './site' }) +
        '---\n' +
        projectManifest('web', { image, hostnames: ['web.localhost'], idleTimeout: '60s' }) +
        '---\n' +
        projectManifest('nap', { image, hostnames: ['nap.localhost'], idleTimeout: '60s' }),
    );
    const applied = await runCli(['apply', '-f', manifest], { api: luma.api });
    expect(applied.code, applied.stderr).toBe(0);
    await eventually(async () => (await api.image(image)).status?.phase === 'Ready', 60_000, 'image Ready');
    await eventually(async () => (await api.project('web')).status?.phase === 'Idle', 30_000, 'project Idle');
    await eventually(async () => (await api.project('nap')).status?.phase === 'Idle', 30_000, 'project nap Idle');
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await luma?.stop();
    await removeInstanceContainers(instance);
    await removeInstanceImages(instance);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function shoot(name: string): Promise<void> {
    if (!SCREENSHOTS) return;
    await mkdir(SCREENSHOTS, { recursive: true });
    for (const scheme of ['light', 'dark'] as const) {
      const suffix = scheme === 'dark' ? '-dark' : '';
      await page.emulateMedia({ colorScheme: scheme });
      await page.screenshot({ path: path.join(SCREENSHOTS, `${name}${suffix}-desktop.png`), fullPage: true });
      await page.setViewportSize({ width: 375, height: 800 });
      await page.screenshot({ path: path.join(SCREENSHOTS, `${name}${suffix}-375.png`), fullPage: true });
      await page.setViewportSize({ width: 1280, height: 900 });
    }
    await page.emulateMedia({ colorScheme: 'light' });
  }

  it('gives no data to a request without a session (401), in the browser or out of it', async () => {
    const bare = await fetch(`${luma.server}/api/v1alpha1/projects`);
    expect(bare.status).toBe(401);
    expect(await bare.text()).not.toContain('web.localhost');
    await page.goto(`${luma.server}/console/`);
    await page.getByRole('heading', { name: 'Sign in to Luma' }).waitFor();
    const answer = await page.evaluate(async () => {
      const response = await fetch('/api/v1alpha1/projects');
      return { status: response.status, body: await response.text() };
    });
    expect(answer.status).toBe(401);
    expect(answer.body).not.toContain('web.localhost');
    await shoot('sign-in');
  });

  it('signs in with the pasted token into an HttpOnly cookie, the token nowhere scripts can read', async () => {
    await page.getByLabel('API token').fill(luma.api.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const cookies = await context.cookies();
    const session = cookies.find((cookie) => cookie.name === 'luma_console');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(session?.value).not.toContain(luma.api.token);
    // Page code as a string: the tests are compiled without the DOM's types.
    const visible = JSON.parse(
      await page.evaluate<string>(
        'JSON.stringify({ cookie: document.cookie, url: location.href, local: JSON.stringify(localStorage), session: JSON.stringify(sessionStorage) })',
      ),
    ) as Record<string, string>;
    for (const value of Object.values(visible)) expect(value).not.toContain(luma.api.token);
    expect(visible.cookie).toBe('');
  });

  it('shows a project Idle, then Running after a request to its host, pushed without a reload', async () => {
    await page.goto(`${luma.server}/console/#/`);
    const row = page.locator('tr[data-project="web"]');
    await row.getByText('Idle', { exact: true }).waitFor();
    await shoot('overview-idle');
    await page.evaluate('window.stillHere = true');
    const answer = await request(luma.proxyPort, 'web.localhost', '/');
    expect(answer.status).toBe(200);
    await row.getByText('Running', { exact: true }).waitFor({ timeout: 15_000 });
    expect(await page.evaluate('window.stillHere'), 'the same page, never reloaded').toBe(true);
    // The cold start that request caused, counted by the controller's metrics.
    await row.locator('[data-metric="cold-starts"]').getByText('1', { exact: true }).waitFor({ timeout: 15_000 });
    expect(await row.locator('[data-metric="cold-start-median"]').textContent()).toMatch(/^\d+(\.\d+)? m?s$/);
    await shoot('overview');
  });

  it('shows a line the app logs in the project log viewer', async () => {
    await page.goto(`${luma.server}/console/#/projects/web`);
    await page.getByText('Log: Live').waitFor();
    const query = `hello-${Date.now()}`;
    await eventually(
      async () => {
        await request(luma.proxyPort, 'web.localhost', `/cgi-bin/log?${query}`);
        return page.getByText(`console-log: ${query}`).isVisible();
      },
      15_000,
      'the logged line in the viewer',
    );
    const metrics = page.getByLabel('Metrics');
    await metrics.locator('[data-metric="cold-starts"]').getByText('1', { exact: true }).waitFor();
    await page.getByLabel('Cold start by phase (mean)').getByText('readiness').waitFor();
    await shoot('project');
  });

  it('wakes an Idle project from its Wake button: Running without a request or a reload', async () => {
    await page.goto(`${luma.server}/console/#/projects/nap`);
    const title = page.getByRole('heading', { name: /^Project nap/ });
    await title.getByText('Idle', { exact: true }).waitFor();
    await page.evaluate('window.stillHere = true');
    await page.getByRole('button', { name: 'Wake' }).click();
    await title.getByText('Running', { exact: true }).waitFor({ timeout: 15_000 });
    expect(await page.evaluate('window.stillHere'), 'the same page, never reloaded').toBe(true);
    expect((await api.project('nap')).status?.lastRequestAt, 'no request reached it').toBeUndefined();
    await shoot('project-woken');
  });

  it('creates a lease from the form, ticks its countdown, and shows its final cost beside the estimate once released', async () => {
    await page.goto(`${luma.server}/console/#/leases`);
    await page.getByLabel('Name').fill('try-out');
    await page.getByLabel('Time to live').fill('10m');
    await page.getByRole('button', { name: 'Create lease' }).click();
    await page.getByText('Lease try-out created.').waitFor();
    const card = page.locator('li[data-lease="try-out"]');
    await card.getByText('Active', { exact: true }).waitFor({ timeout: 30_000 });
    const countdown = card.locator('.countdown');
    const first = await countdown.textContent();
    await eventually(async () => (await countdown.textContent()) !== first, 5_000, 'the countdown to tick');
    expect(await card.locator('.estimate').textContent()).toMatch(/^\d+\.\d+ EUR$/);
    await shoot('leases');
    await card.getByRole('button', { name: 'Release' }).click();
    await card.getByRole('button', { name: 'Yes, release' }).click();
    const ended = page.locator('tr[data-ended-lease="try-out"]');
    await ended.waitFor({ timeout: 30_000 });
    expect(await ended.locator('.final-cost').textContent()).toMatch(/^\d+\.\d+ EUR$/);
    expect(await ended.locator('.estimate').textContent()).toMatch(/^\d+\.\d+ EUR$/);
    await page.goto(`${luma.server}/console/#/usage`);
    await page.getByRole('cell', { name: 'Total' }).first().waitFor();
    await shoot('usage');
  });

  it('refuses a bad manifest in Apply with its file:line error, and changes nothing', async () => {
    const before = await (await fetch(`${luma.server}/api/v1alpha1/projects`, { headers: bearer() })).text();
    await page.goto(`${luma.server}/console/#/apply`);
    await page.getByLabel('File name (used in error messages)').fill('broken.yaml');
    const bad = projectManifest('broken', { image, hostnames: ['broken.localhost'] }).replace(
      'minInstances: 0',
      'minInstances: lots',
    );
    await page.getByLabel(/^Manifest/).fill(bad);
    await page.getByRole('button', { name: 'Apply', exact: true }).click();
    const refusal = page.getByRole('alert').filter({ hasText: 'nothing was changed' });
    await refusal.waitFor();
    expect(await refusal.locator('pre').textContent()).toMatch(/^broken\.yaml:\d+:\d+: spec\.scaling\.minInstances: /);
    const after = await (await fetch(`${luma.server}/api/v1alpha1/projects`, { headers: bearer() })).text();
    expect(JSON.parse(after)).toEqual(JSON.parse(before));
    await shoot('apply-error');
    await page
      .getByLabel(/^Manifest/)
      .fill(projectManifest('web', { image, hostnames: ['web.localhost'], idleTimeout: '90s' }));
    await page.getByRole('button', { name: 'Preview changes' }).click();
    await page.getByText('project/web would be configured').waitFor();
    await shoot('apply-diff');
  });

  it('shows every stored object read-only in the studio, and the image with its build log', async () => {
    await page.goto(`${luma.server}/console/#/studio/projects/web`);
    await page.getByLabel('Object as YAML').getByText('kind: Project').waitFor();
    await shoot('studio');
    await page.goto(`${luma.server}/console/#/images/${image}`);
    await page.getByRole('heading', { name: `Image ${image}` }).waitFor();
    await shoot('image');
  });

  it('follows a running build: a line the build prints appears before the build ends', async () => {
    const slow = uniqueName('slowbuild');
    // The shell works the marker out, so that the echoed Dockerfile line does not hold it.
    const seed = Date.now() % 1_000_000;
    const marker = `build-marker-${seed + 1}`;
    await writeContext(path.join(dir, 'slow', 'ctx'), {
      Dockerfile: [
        'FROM scratch',
        'COPY busybox /bin/busybox',
        `RUN ["/bin/busybox", "sh", "-c", "echo build-marker-$((${seed} + 1)); /bin/busybox sleep 6"]`,
        '',
      ].join('\n'),
    });
    const manifest = path.join(dir, 'slow', 'luma.yaml');
    await writeFile(manifest, imageManifest(slow, { context: './ctx' }));
    await page.goto(`${luma.server}/console/#/images/${slow}`);
    const applied = await runCli(['apply', '-f', manifest], { api: luma.api });
    expect(applied.code, applied.stderr).toBe(0);
    const title = page.getByRole('heading', { name: `Image ${slow}` });
    await title.getByText('Building', { exact: true }).waitFor({ timeout: 15_000 });
    await page.getByLabel(`Build log of ${slow}`).getByText(marker).waitFor({ timeout: 15_000 });
    expect(await title.locator('.badge').first().textContent(), 'seen while the build still runs').toBe('Building');
    await shoot('image-building');
    await title.getByText('Ready', { exact: true }).waitFor({ timeout: 60_000 });
    expect(await page.getByLabel(`Build log of ${slow}`).textContent()).toContain(marker);
  });

  it('signs in from a one-time `luma console` link, which then leaves the address bar and works no more', async () => {
    const printed = await runCli(['console', '--no-open'], { api: luma.api });
    expect(printed.code, printed.stderr).toBe(0);
    const link = printed.stdout.trim();
    expect(link).toMatch(new RegExp(`^${luma.server}/console/#code=[\\w-]+$`));
    const fresh = await browser.newContext();
    const other = await fresh.newPage();
    await other.goto(link);
    await other.getByRole('heading', { name: 'Overview' }).waitFor();
    expect(other.url()).toBe(`${luma.server}/console/`);
    const again = await (await browser.newContext()).newPage();
    await again.goto(link);
    await again.getByText(/used already or has expired/).waitFor();
    await fresh.close();
  });

  function bearer(): Record<string, string> {
    return { authorization: `Bearer ${luma.api.token}` };
  }
});
