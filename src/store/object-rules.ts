import { randomUUID } from 'node:crypto';
import { API_VERSION, KINDS, isKind, type Kind, type LumaObject, type ObjectMeta } from '../model/types.js';
import { canonicalJson } from '../util/hash.js';
import { ConflictError, InvalidObjectError, type ApplyResult } from './store.js';

// What every store does the same way, whatever holds the objects: the shape an object must
// have, the resourceVersion precondition, and what an apply stores (server-set metadata,
// generation bumped only by a spec change, status kept). Pure functions, no I/O.

const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAX_NAME_LENGTH = 63;

/** JSON round trip: what is kept in memory is exactly what a reload would read back. */
export function normalizeJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isStringMap(value: unknown): value is Record<string, string> {
  return isPlainObject(value) && Object.values(value).every((entry) => typeof entry === 'string');
}

export function nameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name === '') return 'metadata.name must be a non-empty string';
  if (name.length > MAX_NAME_LENGTH || !DNS_1123_LABEL.test(name)) {
    return `metadata.name "${name}" must be a DNS-1123 label (lower-case letters, digits and '-', at most ${MAX_NAME_LENGTH} characters)`;
  }
  return undefined;
}

/** The shape every object must have, whether it comes from a caller or from disk. */
export function shapeProblem(value: unknown): string | undefined {
  if (!isPlainObject(value)) return 'not an object';
  if (value.apiVersion !== API_VERSION) return `apiVersion must be ${API_VERSION}`;
  if (!isKind(value.kind)) return `kind must be one of ${KINDS.join(', ')}`;
  const metadata = value.metadata;
  if (!isPlainObject(metadata)) return 'metadata must be an object';
  const problem = nameProblem(metadata.name);
  if (problem) return problem;
  if (metadata.labels !== undefined && !isStringMap(metadata.labels))
    return 'metadata.labels must map strings to strings';
  if (metadata.annotations !== undefined && !isStringMap(metadata.annotations))
    return 'metadata.annotations must map strings to strings';
  if (!isPlainObject(value.spec)) return 'spec must be an object';
  return undefined;
}

export function checkInput(input: unknown): asserts input is LumaObject {
  const problem = shapeProblem(input);
  if (problem) throw new InvalidObjectError(`cannot store object: ${problem}`);
}

export function checkPrecondition(
  kind: Kind,
  name: string,
  expected: string | undefined,
  current: LumaObject | undefined,
): void {
  if (expected === undefined) return;
  const actual = current?.metadata.resourceVersion;
  if (actual !== expected) throw new ConflictError(kind, name, expected, actual);
}

/** Empty maps are dropped so that `labels: {}` and no labels count as the same thing. */
export function normalizeMap(map: Record<string, string> | undefined): Record<string, string> | undefined {
  return map === undefined || Object.keys(map).length === 0 ? undefined : normalizeJson(map);
}

export function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a ?? null) === canonicalJson(b ?? null);
}

/** The object an apply would store, before it is given a resourceVersion. */
export function planApply(
  input: LumaObject,
  current: LumaObject | undefined,
  initialFinalizers: string[] = [],
): { result: ApplyResult; object: LumaObject } {
  const spec = normalizeJson(input.spec);
  const labels = normalizeMap(input.metadata.labels);
  const annotations = normalizeMap(input.metadata.annotations);

  if (!current) {
    const metadata: ObjectMeta = {
      name: input.metadata.name,
      ...(labels ? { labels } : {}),
      ...(annotations ? { annotations } : {}),
      uid: randomUUID(),
      generation: 1,
      creationTimestamp: new Date().toISOString(),
      ...(initialFinalizers.length > 0 ? { finalizers: [...initialFinalizers].sort() } : {}),
    };
    return { result: 'created', object: { apiVersion: API_VERSION, kind: input.kind, metadata, spec } as LumaObject };
  }

  const specChanged = !sameJson(spec, current.spec);
  const metadataChanged =
    !sameJson(labels, current.metadata.labels) || !sameJson(annotations, current.metadata.annotations);
  if (!specChanged && !metadataChanged) return { result: 'unchanged', object: current };

  const { labels: _oldLabels, annotations: _oldAnnotations, ...serverSet } = current.metadata;
  const metadata: ObjectMeta = {
    ...serverSet,
    ...(labels ? { labels } : {}),
    ...(annotations ? { annotations } : {}),
    generation: (current.metadata.generation ?? 0) + (specChanged ? 1 : 0),
  };
  const object = { apiVersion: API_VERSION, kind: current.kind, metadata, spec } as LumaObject;
  if (current.status !== undefined) object.status = structuredClone(current.status);
  return { result: 'configured', object };
}

export function withResourceVersion(object: LumaObject, revision: number): LumaObject {
  return { ...object, metadata: { ...object.metadata, resourceVersion: String(revision) } } as LumaObject;
}
