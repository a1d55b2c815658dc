import { readFileSync } from 'node:fs';

// What `luma --version` prints: the package's version and the git commit the build was
// made from. scripts/build-info.js writes dist/build-info.json at build time (offline,
// from the local repository); without it (run from source, or built outside a git
// checkout) the commit is "unknown".

export interface BuildInfo {
  version: string;
  commit: string;
  /** Built with uncommitted changes to tracked files. */
  dirty: boolean;
}

/** `here` is this module's URL: dist/cli/ after tsc, src/cli/ under tsx; both sit two levels down. */
export function readBuildInfo(here: string = import.meta.url): BuildInfo {
  const packageJson = readJson(new URL('../../package.json', here)) as { version?: string } | undefined;
  const recorded = readJson(new URL('../build-info.json', here)) as Partial<BuildInfo> | undefined;
  return {
    version: packageJson?.version ?? 'unknown',
    commit: typeof recorded?.commit === 'string' ? recorded.commit : 'unknown',
    dirty: recorded?.dirty === true,
  };
}

export function versionLine(info: BuildInfo): string {
  return `luma ${info.version} (commit ${info.commit}${info.dirty ? ', with uncommitted changes' : ''})`;
}

function readJson(url: URL): unknown {
  try {
    return JSON.parse(readFileSync(url, 'utf8'));
  } catch {
    return undefined;
  }
}
