import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

// Finds manifest files the way kubectl does for `-f DIR`: every *.yaml / *.yml below it.

export const MANIFEST_FILE_PATTERN = /\.ya?ml$/i;

export async function findManifestFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && MANIFEST_FILE_PATTERN.test(entry.name)) found.push(path.join(entry.parentPath, entry.name));
  }
  return found.sort();
}

export interface LoadedFile {
  path: string;
  content: string;
}

/** `-` reads standard input; a directory expands to its manifest files; anything else is read as one file. */
export async function loadManifestArguments(args: string[], readStdin: () => Promise<string>): Promise<LoadedFile[]> {
  const files: LoadedFile[] = [];
  for (const arg of args) {
    if (arg === '-') {
      files.push({ path: '<stdin>', content: await readStdin() });
      continue;
    }
    const info = await stat(arg).catch((error: NodeJS.ErrnoException) => {
      throw new Error(`${arg}: ${error.code === 'ENOENT' ? 'no such file or directory' : error.message}`);
    });
    const paths = info.isDirectory() ? await findManifestFiles(arg) : [arg];
    if (info.isDirectory() && paths.length === 0)
      throw new Error(`${arg}: the directory holds no *.yaml or *.yml file`);
    for (const file of paths) files.push({ path: file, content: await readFile(file, 'utf8') });
  }
  return files;
}
