import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

// Worker threads whose entry is a module of this code base, run the way the code around
// it runs: from dist/ the entry is compiled JavaScript and starts as it is; from the
// sources (vitest, tsx) it is TypeScript, and the thread registers tsx's loader before
// importing it. The choice follows the calling module's own file name, never a failed
// start: a broken entry fails loudly in both forms.

/** The module `name` beside `base` (an `import.meta.url`), with the same extension as `base`. */
export function siblingModule(base: string, name: string): URL {
  const extension = path.extname(new URL(base).pathname);
  return new URL(`./${name}${extension}`, base);
}

export function startModuleWorker(entry: URL, options: WorkerOptions = {}): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, options);
  const bootstrap = `import(${JSON.stringify(tsxEsmApi())}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}

/**
 * tsx's ESM API, as an import would resolve it (require.resolve takes the CommonJS build,
 * which cannot register ESM hooks here). tsx is a development dependency: only the
 * sources need it, and they have it.
 */
function tsxEsmApi(): string {
  const manifest = createRequire(import.meta.url).resolve('tsx/package.json');
  const exported = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: Record<string, unknown> }).exports?.[
    './esm/api'
  ] as { import?: { default?: unknown } } | undefined;
  const file = exported?.import?.default;
  if (typeof file !== 'string')
    throw new Error(`${manifest}: no ESM entry for tsx/esm/api; cannot run a TypeScript worker`);
  return new URL(file, pathToFileURL(manifest)).href;
}
