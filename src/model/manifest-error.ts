// The one error every layer raises for a manifest it refuses: each issue names the file,
// line and column, the field's path and what was expected, so the CLI, the API and the
// watched-directory log all say the same thing.

export interface ManifestIssue {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** `spec.scaling.minInstances`, `spec.hostnames[1]`; empty for the document itself. */
  path: string;
  message: string;
}

/** `file:line:column: path: message`, or `file:line:column: message` for the document itself. */
export function formatIssue(issue: ManifestIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.column}`;
  return issue.path === '' ? `${where}: ${issue.message}` : `${where}: ${issue.path}: ${issue.message}`;
}

/** In reading order (file, line, column), each distinct issue once. */
export function sortIssues(issues: readonly ManifestIssue[]): ManifestIssue[] {
  const seen = new Set<string>();
  const unique = issues.filter((issue) => {
    const key = formatIssue(issue);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return unique.sort(
    (a, b) =>
      compareText(a.file, b.file) ||
      a.line - b.line ||
      a.column - b.column ||
      compareText(a.path, b.path) ||
      compareText(a.message, b.message),
  );
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class ManifestError extends Error {
  readonly issues: ManifestIssue[];

  /** Issues are kept in the order given; parseManifests gives them sorted. */
  constructor(issues: readonly ManifestIssue[]) {
    super(issues.length > 0 ? issues.map(formatIssue).join('\n') : 'invalid manifest');
    this.name = 'ManifestError';
    this.issues = [...issues];
  }
}
