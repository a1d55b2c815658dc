import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { isKind } from '../model/types.js';
import { errorCode, writeFileAtomic } from '../util/atomic-file.js';
import type { ObjectRef } from './ownership.js';

// What the watched directory declared, per file: the record that prune acts on. Written
// atomically (temp file, fsync, rename) after every pass that changed it, and once more
// before a pass creates objects, so that a crash between creating an object and recording
// it still leaves the object recognisably the directory's (see InventoryEntry.uid).

export const INVENTORY_FILE = path.join('sync', 'inventory.json');
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

export interface InventoryEntry extends ObjectRef {
  /**
   * The uid of the object the directory applied. Absent while the pass that creates it
   * runs: such an entry owns the object only if the object carries the entry's file in
   * its source-file annotation (the mark of the directory's own write).
   */
  uid?: string;
}

/** File (relative to the watched directory, `/`-separated) → the objects it declared. */
export type Inventory = Record<string, InventoryEntry[]>;

export class InventoryLoadError extends Error {
  constructor(file: string, reason: string) {
    super(
      `${file}: ${reason} (move it aside to start over: the directory then owns nothing until it applies its files again)`,
    );
    this.name = 'InventoryLoadError';
  }
}

export class InventoryFile {
  readonly path: string;

  constructor(stateDir: string) {
    this.path = path.join(stateDir, INVENTORY_FILE);
  }

  async load(): Promise<Inventory> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return {};
      throw error;
    }
    return parseInventory(text, this.path);
  }

  async save(inventory: Inventory): Promise<void> {
    await mkdir(path.dirname(this.path), { recursive: true, mode: DIR_MODE });
    const sorted = Object.fromEntries(
      Object.keys(inventory)
        .sort()
        .map((file) => [file, inventory[file]]),
    );
    await writeFileAtomic(this.path, `${JSON.stringify({ version: 1, files: sorted }, null, 2)}\n`, {
      mode: FILE_MODE,
    });
  }
}

export function parseInventory(text: string, file: string): Inventory {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InventoryLoadError(file, `not valid JSON (${(error as Error).message})`);
  }
  if (!isRecord(value) || value.version !== 1 || !isRecord(value.files))
    throw new InventoryLoadError(file, 'expected {"version": 1, "files": {...}}');
  const inventory: Inventory = {};
  for (const [source, entries] of Object.entries(value.files)) {
    if (!Array.isArray(entries)) throw new InventoryLoadError(file, `files["${source}"] must be a list`);
    inventory[source] = entries.map((entry: unknown, index) => {
      if (
        !isRecord(entry) ||
        !isKind(entry.kind) ||
        typeof entry.name !== 'string' ||
        (entry.uid !== undefined && typeof entry.uid !== 'string')
      ) {
        throw new InventoryLoadError(file, `files["${source}"][${index}] must be {kind, name, uid?}`);
      }
      return { kind: entry.kind, name: entry.name, ...(typeof entry.uid === 'string' ? { uid: entry.uid } : {}) };
    });
  }
  return inventory;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
