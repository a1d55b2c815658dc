import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

// The console's built files (Vite's output, `npm run build`), read into memory once when
// the API starts: a few hundred kilobytes, served without touching the disk again, and
// no path from a request ever reaches the file system.

export interface Asset {
  body: Buffer;
  type: string;
  /** Vite names assets by content hash: they can be cached for good. */
  immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** Where the build puts the console: dist/console-app, beside this module's own dist/console. */
export function defaultAssetsDir(): string | undefined {
  const candidates = [
    path.resolve(import.meta.dirname, '../console-app'),
    // Run from src/ (tsx, vitest): the last build's output.
    path.resolve(import.meta.dirname, '../../dist/console-app'),
  ];
  return candidates.find((dir) => existsSync(path.join(dir, 'index.html')));
}

/** Every file under `dir`, keyed by its URL path relative to it (`index.html`, `assets/x.js`). */
export async function loadAssets(dir: string): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  for (const relative of await listFiles(dir)) {
    const type = TYPES[path.extname(relative)];
    if (type === undefined) continue;
    const body = await readFile(path.join(dir, relative));
    assets.set(relative, { body, type, immutable: relative.startsWith('assets/') });
  }
  return assets;
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) files.push(...(await listFiles(dir, relative)));
    else if (entry.isFile()) files.push(relative);
  }
  return files;
}
