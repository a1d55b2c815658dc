import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { INVENTORY_FILE, InventoryFile, InventoryLoadError, parseInventory } from '../../../src/sync/inventory.js';

// The inventory: what the watched directory owns, kept in the state directory.

let stateDir: string;

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'luma-inventory-'));
});

afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

describe('InventoryFile', () => {
  it('is empty before the first save, and reads back what was saved (owner-only, files sorted)', async () => {
    const file = new InventoryFile(stateDir);
    expect(await file.load()).toEqual({});
    await file.save({
      'b.yaml': [{ kind: 'Project', name: 'b', uid: 'u-b' }],
      'a.yaml': [{ kind: 'Image', name: 'a' }],
    });
    expect(await file.load()).toEqual({
      'a.yaml': [{ kind: 'Image', name: 'a' }],
      'b.yaml': [{ kind: 'Project', name: 'b', uid: 'u-b' }],
    });
    const text = await readFile(path.join(stateDir, INVENTORY_FILE), 'utf8');
    expect(text.indexOf('a.yaml')).toBeLessThan(text.indexOf('b.yaml'));
    expect((await stat(path.join(stateDir, INVENTORY_FILE))).mode & 0o777).toBe(0o600);
  });

  it('refuses a damaged file, naming it and what is wrong', async () => {
    await mkdir(path.join(stateDir, 'sync'));
    await writeFile(
      path.join(stateDir, INVENTORY_FILE),
      '{"version": 1, "files": {"a.yaml": [{"kind": "Pod", "name": "x"}]}}',
    );
    await expect(new InventoryFile(stateDir).load()).rejects.toThrow(
      /inventory\.json: files\["a\.yaml"\]\[0\] must be \{kind, name, uid\?\}/,
    );
  });

  it.each([
    ['not json', 'not valid JSON'],
    ['[]', 'expected {"version": 1, "files": {...}}'],
    ['{"version": 2, "files": {}}', 'expected {"version": 1'],
    ['{"version": 1, "files": {"a.yaml": {}}}', 'files["a.yaml"] must be a list'],
    ['{"version": 1, "files": {"a.yaml": [{"kind": "Project", "name": "a", "uid": 7}]}}', 'files["a.yaml"][0]'],
  ])('%j is refused', (text, message) => {
    expect(() => parseInventory(text, 'inv.json')).toThrow(InventoryLoadError);
    expect(() => parseInventory(text, 'inv.json')).toThrow(message);
  });
});
