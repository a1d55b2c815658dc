// Paths to a field inside a manifest, as segments (`['spec', 'hostnames', 1]`) and as
// people read them (`spec.hostnames[1]`), and the issue found at such a path before it is
// given a file position.

export type PathSegment = string | number;
export type FieldPath = readonly PathSegment[];

/** A problem with one field; the YAML layer turns `at` into a line and column. */
export interface FieldIssue {
  /** The field the message is about; printed before the message. */
  path: FieldPath;
  message: string;
  /**
   * Where to point: the value at `path` unless told otherwise. `key: true` points at the
   * key that names the field (an unknown field is its key, not its value).
   */
  at?: { path: FieldPath; key?: boolean };
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `spec.scaling.minInstances`, `spec.hostnames[1]`, `metadata.labels["example.com/tier"]`; `` for the document. */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/**
 * Segments of a JSON Pointer (what ajv reports), typed by the data they walk through:
 * an index into an array is a number, anything else a string, even `"1"` as a map key.
 */
export function pathFromPointer(pointer: string, data: unknown): PathSegment[] {
  if (pointer === '') return [];
  const segments: PathSegment[] = [];
  let current: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current)) {
      const index = Number(segment);
      segments.push(index);
      current = current[index];
    } else {
      segments.push(segment);
      current = isRecord(current) ? current[segment] : undefined;
    }
  }
  return segments;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value at `path`, or undefined when the path leads nowhere. */
export function valueAt(data: unknown, path: FieldPath): unknown {
  let current = data;
  for (const segment of path) {
    if (typeof segment === 'number') current = Array.isArray(current) ? current[segment] : undefined;
    else current = isRecord(current) && Object.hasOwn(current, segment) ? current[segment] : undefined;
    if (current === undefined) return undefined;
  }
  return current;
}

/** True when `path` is `ancestor` or lies below it. */
export function isWithin(path: FieldPath, ancestor: FieldPath): boolean {
  return ancestor.length <= path.length && ancestor.every((segment, index) => path[index] === segment);
}
