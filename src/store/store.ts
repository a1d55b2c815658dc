import type { Kind, LumaObject, ObjectMeta, ObjectOfKind, StatusOf } from '../model/types.js';

// The store holds desired state (spec, owned by users) and observed state (status,
// owned by the controller). It is an interface so that the embedded file store can later
// be swapped for a shared database without touching its callers.

export type ApplyResult = 'created' | 'configured' | 'unchanged';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchEvent {
  type: WatchEventType;
  object: LumaObject;
}

export type WatchListener = (event: WatchEvent) => void;

export interface ApplyOptions {
  /** When set, the write is refused with a ConflictError unless it matches. */
  resourceVersion?: string;
  /**
   * Checks and computes the result without writing or emitting anything. The returned
   * object is the one that would be stored, except that no resourceVersion is assigned:
   * a new object has none, an updated one keeps its current one.
   */
  dryRun?: boolean;
}

export interface DeleteOptions {
  resourceVersion?: string;
}

export interface ObjectStore {
  /** Reads return copies: changing them never changes the store. */
  get<K extends Kind>(kind: K, name: string): ObjectOfKind<K> | undefined;
  list<K extends Kind>(kind: K): ObjectOfKind<K>[];
  /**
   * A copy of the object's metadata alone, without copying its spec and status: for callers
   * that ask only which object it is and how it was last written (the sync's every pass).
   */
  metadata(kind: Kind, name: string): ObjectMeta | undefined;
  /**
   * The object's resourceVersion, without copying anything: every write gives an object a
   * new one, so a caller that saw it at this version knows it has not been written since.
   */
  resourceVersion(kind: Kind, name: string): string | undefined;
  /** Whether the object exists, without copying it. */
  has(kind: Kind, name: string): boolean;
  /** The names of a kind's objects, sorted: for callers that need no more, without copying every object. */
  names(kind: Kind): string[];
  /**
   * Creates or updates an object from user input. Server-set metadata and any status
   * in the input are ignored; `generation` is bumped only when the spec changes.
   */
  apply(object: LumaObject, options?: ApplyOptions): Promise<{ object: LumaObject; result: ApplyResult }>;
  /**
   * Replaces the status of an object; never touches its spec or generation. A status equal
   * to the current one writes nothing. Returns undefined when the object does not exist.
   */
  updateStatus<K extends Kind>(kind: K, name: string, status: StatusOf<K>): Promise<ObjectOfKind<K> | undefined>;
  /**
   * Read-modify-write of a status, run in turn with every other write of the object, so
   * that two writers (the controller and a renewal through the API) never lose each
   * other's changes. `change` returns the next status, or undefined to write nothing.
   */
  mutateStatus<K extends Kind>(
    kind: K,
    name: string,
    change: (current: ObjectOfKind<K>) => StatusOf<K> | undefined,
  ): Promise<ObjectOfKind<K> | undefined>;
  /**
   * Sets an object's finalizers. When the object is marked for deletion and the last
   * finalizer goes, the object is deleted (DELETED event). Returns the object as it is
   * afterwards, undefined when it does not exist (or was just deleted).
   */
  setFinalizers(kind: Kind, name: string, finalizers: string[]): Promise<LumaObject | undefined>;
  /**
   * Returns the deleted object, or undefined when there was none. An object with
   * finalizers is not removed but marked (metadata.deletionTimestamp, a MODIFIED event)
   * and returned as marked; it goes once its finalizers are cleared. The returned object (and
   * the DELETED event) carries the resourceVersion of the deletion, like Kubernetes.
   */
  delete(kind: Kind, name: string, options?: DeleteOptions): Promise<LumaObject | undefined>;
  /**
   * Change events for every object of every kind, delivered synchronously after each
   * successful write, as a copy that changing never changes the store; listeners share
   * it, so a listener must not change it either. Returns an unsubscribe function.
   */
  watch(listener: WatchListener): () => void;
  close(): Promise<void>;
}

export class ConflictError extends Error {
  readonly code = 'Conflict';
  constructor(
    readonly kind: Kind,
    /** Not `name`: that is Error's own field, the class name. */
    readonly objectName: string,
    readonly expected: string,
    readonly actual: string | undefined,
  ) {
    super(
      actual === undefined
        ? `${kind} "${objectName}": resourceVersion ${expected} was given but the object does not exist`
        : `${kind} "${objectName}": the object has been modified (resourceVersion ${expected} is stale, current is ${actual}); get it again and retry`,
    );
    this.name = 'ConflictError';
  }
}

/** A write to an object that is being deleted (it has a deletionTimestamp). */
export class TerminatingError extends Error {
  readonly code = 'Terminating';
  constructor(
    readonly kind: Kind,
    readonly objectName: string,
  ) {
    super(`${kind} "${objectName}" is being deleted; apply it again once it is gone`);
    this.name = 'TerminatingError';
  }
}

/** Input the store cannot hold (wrong shape, a name that is not a DNS-1123 label). */
export class InvalidObjectError extends Error {
  readonly code = 'Invalid';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidObjectError';
  }
}
