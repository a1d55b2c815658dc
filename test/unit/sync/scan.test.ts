import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scanDirectory } from '../../../src/sync/scan.js';

// The scan's pace: a worker that limits its share of the CPU is asked before each file is
// looked at and before each is read, and a scan waits for it.

let root: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'luma-scan-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const project = (name: string): string =>
  `apiVersion: luma.dev/v1alpha1\nkind: Project\nmetadata:\n  name: ${name}\nspec:\n  image: busybox\n  hostnames:\n    - ${name}.localhost\n`;

describe('scanDirectory with a pace', () => {
  it('waits for the pace before each look at a file and before each read', async () => {
    await Promise.all(['a', 'b', 'c'].map((name) => writeFile(path.join(root, `${name}.yaml`), project(name))));
    let calls = 0;
    let released = false;
    const scan = scanDirectory(root, {
      pace: async () => {
        calls += 1;
        if (calls === 4) await new Promise((resolve) => setTimeout(resolve, 50)).then(() => (released = true));
      },
    });
    const result = await scan;
    expect(released).toBe(true);
    // Three looks before the write-finish check, three before reading, three looks after reading.
    expect(calls).toBe(9);
    expect(result.parsed.map((file) => file.file)).toEqual(['a.yaml', 'b.yaml', 'c.yaml']);
  });
});
