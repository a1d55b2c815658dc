import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { DeployRequest } from './management.js';

// The proxy's route table on disk, so a restarted proxy serves what it served before
// (running projects keep answering while the controller is away). Written atomically
// after every change; one writer at a time.

export interface RouteState {
  services: DeployRequest[];
  globals: Record<string, string>;
}

export class RouteStateError extends Error {
  constructor(file: string, reason: string) {
    super(`${file}: ${reason}`);
    this.name = 'RouteStateError';
  }
}

function isRouteState(value: unknown): value is RouteState {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<RouteState>;
  return Array.isArray(candidate.services) && typeof candidate.globals === 'object' && candidate.globals !== null;
}

export class RouteStateFile {
  private writes: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  async load(): Promise<RouteState | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new RouteStateError(this.file, (error as Error).message);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new RouteStateError(this.file, `not valid JSON (${(error as Error).message})`);
    }
    if (!isRouteState(parsed))
      throw new RouteStateError(this.file, 'not a route table (expected services and globals)');
    return parsed;
  }

  /** Queued behind earlier saves, so the file always ends with the latest state. */
  save(state: RouteState): Promise<void> {
    const text = JSON.stringify(state, null, 2) + '\n';
    const write = this.writes.then(async () => {
      await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
      await writeFileAtomic(this.file, text, { mode: 0o600 });
    });
    this.writes = write.catch(() => undefined);
    return write;
  }
}
