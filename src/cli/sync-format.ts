import { formatIssue } from '../model/manifest-error.js';
import type { SyncStatus } from '../sync/sync-status.js';
import { age, table } from './format.js';
import { PLAIN, styleWord, type Style } from './style.js';

// `luma get sync`: the watched directory's status as a person reads it — one summary
// line, then a table of files; what needs a person (issues, conflicts, prunes held back)
// is listed below the table.

export function formatSyncStatus(status: SyncStatus, style: Style = PLAIN, now = Date.now()): string {
  const last = status.lastPassAt ? `${age(status.lastPassAt, now)} ago` : 'never';
  const lines = [
    `DIRECTORY: ${status.directory}${status.exists ? '' : ' (missing)'}`,
    `PHASE:     ${styleWord(style, status.phase)} (${status.passes} passes, last ${last})`,
  ];
  if (status.error) lines.push(`ERROR:     ${status.error}`);
  lines.push('');
  if (status.files.length === 0) lines.push('No manifest files.');
  else
    lines.push(
      table([
        ['FILE', 'STATE', 'OBJECTS'],
        ...status.files.map((file) => [file.file, styleWord(style, file.state), file.objects.join(',') || '<none>']),
      ]).trimEnd(),
    );
  return [...lines, ...problems(status)].join('\n') + '\n';
}

function problems(status: SyncStatus): string[] {
  const lines: string[] = [];
  for (const file of status.files) {
    for (const issue of file.issues ?? []) lines.push(`  ${formatIssue(issue)}`);
    if (file.message && !file.issues?.length) lines.push(`  ${file.file}: ${file.message}`);
  }
  for (const conflict of status.conflicts) lines.push(`  conflict: ${conflict.object}: ${conflict.message}`);
  if (status.pruneWithheld)
    lines.push(`  prune held back: ${status.pruneWithheld.objects.join(', ')} (${status.pruneWithheld.reason})`);
  if (status.pruneWaiting)
    lines.push(`  prune waiting: ${status.pruneWaiting.objects.join(', ')} (until ${status.pruneWaiting.until})`);
  return lines.length > 0 ? ['', 'Problems:', ...lines] : [];
}
