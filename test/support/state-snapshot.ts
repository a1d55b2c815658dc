import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

// A directory's contents as one comparable value (every file's path and content hash), to
// show that refused input changed nothing on disk.

export async function snapshotDir(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) {
        files.set(`${path.relative(dir, full)}/`, 'dir');
        await walk(full);
      } else {
        files.set(
          path.relative(dir, full),
          createHash('sha256')
            .update(await readFile(full))
            .digest('hex'),
        );
      }
    }
  };
  await walk(dir);
  return files;
}

/** What differs between two snapshots, in words; empty when they are the same. */
export function snapshotDifferences(before: Map<string, string>, after: Map<string, string>): string[] {
  const differences: string[] = [];
  for (const [file, hash] of after) {
    if (!before.has(file)) differences.push(`added ${file}`);
    else if (before.get(file) !== hash) differences.push(`changed ${file}`);
  }
  for (const file of before.keys()) if (!after.has(file)) differences.push(`removed ${file}`);
  return differences;
}
