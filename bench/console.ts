// bench/console: the web console's first load on this machine, in Debian's headless
// Chromium: from navigation to the Overview showing a live project row, with an empty
// cache each time (a new browser context), signed in by cookie.
//
//   npx tsx bench/console.ts [--iterations N]
//
// Prints the built bundle's sizes (raw and gzip), then the median and p90 of DOMContentLoaded
// and of "live": the first moment the projects table holds a row pushed by the watch.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { launchChromium } from '../test/support/browser.js';
import { buildTestImage, removeInstanceContainers, TEST_IMAGE, testInstance } from '../test/support/docker.js';
import { projectManifest, REPO_ROOT, runCli, startLuma, tempDir } from '../test/support/luma.js';
import { option, percentile } from './lib/common.js';

const iterations = option('--iterations', 10);
const ASSETS = path.join(REPO_ROOT, 'dist/console-app/assets');

async function bundleSizes(): Promise<void> {
  for (const file of await readdir(ASSETS)) {
    const body = await readFile(path.join(ASSETS, file));
    process.stdout.write(`${file}: ${body.length} bytes, ${gzipSync(body).length} gzipped\n`);
  }
}

async function main(): Promise<void> {
  await bundleSizes();
  await buildTestImage();
  const instance = testInstance('bench-console');
  const dir = await tempDir('bench-console');
  await mkdir(path.join(dir, 'manifests'));
  const luma = await startLuma({ stateDir: path.join(dir, 'state'), manifests: path.join(dir, 'manifests'), instance });
  const browser = await launchChromium();
  try {
    const manifest = path.join(dir, 'web.yaml');
    await writeFile(manifest, projectManifest('web', { image: TEST_IMAGE, hostnames: ['web.localhost'] }));
    await runCli(['apply', '-f', manifest], { api: luma.api });
    const signIn = await fetch(`${luma.server}/console/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-luma-console': '1' },
      body: JSON.stringify({ token: luma.api.token }),
    });
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';', 1)[0] ?? '';
    const [name = '', value = ''] = cookie.split('=');
    const domContentLoaded: number[] = [];
    const live: number[] = [];
    for (let round = 0; round < iterations; round++) {
      const context = await browser.newContext();
      await context.addCookies([{ name, value, url: luma.server, httpOnly: true, sameSite: 'Strict' }]);
      const page = await context.newPage();
      const started = performance.now();
      await page.goto(`${luma.server}/console/`, { waitUntil: 'domcontentloaded' });
      domContentLoaded.push(performance.now() - started);
      await page.locator('tr[data-project="web"]').waitFor();
      live.push(performance.now() - started);
      await context.close();
    }
    const line = (what: string, values: number[]): string =>
      `${what}: median ${percentile(values, 50).toFixed(0)} ms, p90 ${percentile(values, 90).toFixed(0)} ms (${values.length} loads)\n`;
    process.stdout.write(line('DOMContentLoaded', domContentLoaded));
    process.stdout.write(line('Overview live (first project row)', live));
  } finally {
    await browser.close();
    await luma.stop();
    await removeInstanceContainers(instance);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
