// Run by `npm run build` after tsc: records the commit the build was made from in
// dist/build-info.json, for `luma --version`. Offline by nature (git reads the local
// repository); outside a git checkout (a tarball, an npm pack) the commit is "unknown".
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

function git(...args) {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

const commit = git('rev-parse', 'HEAD') ?? 'unknown';
// Uncommitted changes to tracked files make the build differ from the commit it names.
const dirty = commit !== 'unknown' && git('status', '--porcelain', '--untracked-files=no') !== '';
writeFileSync('dist/build-info.json', JSON.stringify({ commit, dirty }, null, 2) + '\n');
