import type { Kind, LumaObject, ObjectOfKind, StatusOf } from '../model/types.js';
import {
  checkInput,
  decideApply,
  decideDelete,
  decideFinalizers,
  decideStatus,
  type Decision,
} from './object-rules.js';
import type { ApplyOptions, ApplyResult, DeleteOptions } from './store.js';

// The write methods of every store, as decisions (object-rules.ts) over the object as the
// store holds it. A store says only how it carries a decision out (a file written, a
// database transaction) and which finalizers a new object starts with.

export abstract class DecidingStore {
  /** Runs `decide` on the object as stored, in turn with the object's other writes, and carries it out. */
  protected abstract decideWrite<T>(
    kind: Kind,
    name: string,
    decide: (current: LumaObject | undefined) => Decision<T>,
  ): Promise<T>;

  /** The finalizers every new object of a kind starts with. */
  protected abstract initialFinalizers(kind: Kind): string[] | undefined;

  apply(input: LumaObject, options: ApplyOptions = {}): Promise<{ object: LumaObject; result: ApplyResult }> {
    try {
      checkInput(input);
    } catch (error) {
      return Promise.reject(error);
    }
    const initialFinalizers = this.initialFinalizers(input.kind);
    return this.decideWrite(input.kind, input.metadata.name, (current) =>
      decideApply(input, current, options, initialFinalizers),
    );
  }

  updateStatus<K extends Kind>(kind: K, name: string, status: StatusOf<K>): Promise<ObjectOfKind<K> | undefined> {
    return this.mutateStatus(kind, name, () => status);
  }

  mutateStatus<K extends Kind>(
    kind: K,
    name: string,
    change: (current: ObjectOfKind<K>) => StatusOf<K> | undefined,
  ): Promise<ObjectOfKind<K> | undefined> {
    return this.decideWrite(kind, name, (current) => decideStatus(kind, name, current, change));
  }

  setFinalizers(kind: Kind, name: string, finalizers: string[]): Promise<LumaObject | undefined> {
    return this.decideWrite(kind, name, (current) => decideFinalizers(current, finalizers));
  }

  delete(kind: Kind, name: string, options: DeleteOptions = {}): Promise<LumaObject | undefined> {
    return this.decideWrite(kind, name, (current) => decideDelete(kind, name, current, options));
  }
}
