import { randomUUID } from 'node:crypto';
import {
  API_VERSION,
  KINDS,
  isKind,
  type Kind,
  type LumaObject,
  type ObjectMeta,
  type ObjectOfKind,
  type StatusOf,
} from '../model/types.js';
import { canonicalJson } from '../util/hash.js';
import {
  ConflictError,
  InvalidObjectError,
  TerminatingError,
  type ApplyOptions,
  type ApplyResult,
  type DeleteOptions,
  type WatchEventType,
} from './store.js';

// What every store does the same way, whatever holds the objects: the shape an object must
// have, the resourceVersion precondition, and what an apply stores (server-set metadata,
// generation bumped only by a spec change, status kept), and what each write decides once
// it sees the object as stored (a Decision the store then carries out). Pure functions, no I/O.

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

/** What a write does once it sees the object as the store holds it: answer, put or remove. */
export type Decision<T> =
  | { answer: T }
  | { put: LumaObject; type: Exclude<WatchEventType, 'DELETED'>; answer: (stored: LumaObject) => T }
  | { remove: LumaObject; answer: (deleted: LumaObject) => T };

export function decideApply(
  input: LumaObject,
  current: LumaObject | undefined,
  options: ApplyOptions,
  initialFinalizers?: string[],
): Decision<{ object: LumaObject; result: ApplyResult }> {
  const { kind } = input;
  const { name } = input.metadata;
  checkPrecondition(kind, name, options.resourceVersion, current);
  const { result, object } = planApply(input, current, initialFinalizers);
  if (result === 'unchanged' || options.dryRun) return { answer: { result, object } };
  if (current?.metadata.deletionTimestamp) throw new TerminatingError(kind, name);
  return {
    put: object,
    type: result === 'created' ? 'ADDED' : 'MODIFIED',
    answer: (stored) => ({ result, object: stored }),
  };
}

/** A status change: nothing for a missing object, nor for a status equal to the current one. */
export function decideStatus<K extends Kind>(
  kind: K,
  name: string,
  current: LumaObject | undefined,
  change: (current: ObjectOfKind<K>) => StatusOf<K> | undefined,
): Decision<ObjectOfKind<K> | undefined> {
  if (!current) return { answer: undefined };
  const status = change(structuredClone(current) as ObjectOfKind<K>);
  const unchanged = { answer: current as ObjectOfKind<K> };
  if (status === undefined) return unchanged;
  if (!isPlainObject(status)) throw new InvalidObjectError(`${kind} "${name}": status must be an object`);
  const nextStatus = normalizeJson(status);
  if (canonicalJson(nextStatus) === canonicalJson(current.status ?? {})) return unchanged;
  const put = { ...current, status: nextStatus } as LumaObject;
  return { put, type: 'MODIFIED', answer: (stored) => stored as ObjectOfKind<K> };
}

/** The last finalizer gone from an object being deleted removes it. */
export function decideFinalizers(
  current: LumaObject | undefined,
  finalizers: string[],
): Decision<LumaObject | undefined> {
  if (!current) return { answer: undefined };
  const next = [...new Set(finalizers)].sort();
  if (next.length === 0 && current.metadata.deletionTimestamp) return { remove: current, answer: () => undefined };
  if (sameJson(next, current.metadata.finalizers ?? [])) return { answer: current };
  const { finalizers: _old, ...metadata } = current.metadata;
  const put = { ...current, metadata: { ...metadata, ...(next.length > 0 ? { finalizers: next } : {}) } };
  return { put: put as LumaObject, type: 'MODIFIED', answer: (stored) => stored };
}

/** An object with finalizers is only marked for deletion; one without is removed. */
export function decideDelete(
  kind: Kind,
  name: string,
  current: LumaObject | undefined,
  options: DeleteOptions,
): Decision<LumaObject | undefined> {
  checkPrecondition(kind, name, options.resourceVersion, current);
  if (!current) return { answer: undefined };
  if ((current.metadata.finalizers ?? []).length === 0) return { remove: current, answer: (stored) => stored };
  if (current.metadata.deletionTimestamp) return { answer: current };
  const put = { ...current, metadata: { ...current.metadata, deletionTimestamp: new Date().toISOString() } };
  return { put: put as LumaObject, type: 'MODIFIED', answer: (stored) => stored };
}
