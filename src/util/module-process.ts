import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Child processes whose entry is a module of this code base, run the way the code around
// it runs (as module-worker.ts does for threads): from dist/ the entry is compiled
// JavaScript; from the sources (vitest, tsx) it is TypeScript, and the child loads tsx's
// hooks first. Messages use the structured clone (`serialization: 'advanced'`), as a
// worker thread's do, so that what crosses is the same plain data.

export function startModuleProcess(entry: URL): ChildProcess {
  const typescript = entry.pathname.endsWith('.ts');
  return fork(fileURLToPath(entry), [], {
    serialization: 'advanced',
    // Not the parent's other flags (an inspector port would clash with the parent's, a
    // heap limit is the parent's); a CPU profile (bench/scale --cpu-prof) covers the child too.
    execArgv: [
      ...process.execArgv.filter((flag) => flag.startsWith('--cpu-prof')),
      ...(typescript ? ['--import', tsxLoader()] : []),
    ],
    // stderr is piped: the caller says why a child crashed, and passes it on.
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
}

/** tsx's loader (`node --import tsx`), as a file URL: only the sources need it, and they have it. */
function tsxLoader(): string {
  const manifest = createRequire(import.meta.url).resolve('tsx/package.json');
  const exported = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: Record<string, unknown> }).exports?.['.'];
  if (typeof exported !== 'string') throw new Error(`${manifest}: no entry for tsx; cannot run a TypeScript child`);
  return new URL(exported, pathToFileURL(manifest)).href;
}
