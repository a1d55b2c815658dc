import { describe, expect, it } from 'vitest';
import type { LumaObject } from '../../../../src/model/types.js';
import { Mirror, type Change } from '../../../../src/store/postgres/mirror.js';
import { project } from '../store.cases.js';

function at(version: number, name: string, type: Change['type'] = 'MODIFIED'): Change {
  const object = project(name) as LumaObject;
  return { version, type, object: { ...object, metadata: { ...object.metadata, resourceVersion: String(version) } } };
}

const names = (events: { type: string; object: LumaObject }[]): string[] =>
  events.map((event) => `${event.type} ${event.object.metadata.name} ${event.object.metadata.resourceVersion}`);

describe('Mirror', () => {
  it('applies changes in version order, holding an early one until the gap before it fills', () => {
    const mirror = new Mirror();
    expect(names(mirror.accept([at(2, 'b', 'ADDED')]))).toEqual([]);
    expect(mirror.hasGap()).toBe(true);
    expect(mirror.bucket('Project').has('b')).toBe(false);
    expect(names(mirror.accept([at(1, 'a', 'ADDED')]))).toEqual(['ADDED a 1', 'ADDED b 2']);
    expect(mirror.hasGap()).toBe(false);
    expect(mirror.version).toBe(2);
  });

  it('ignores a change it has applied already, whichever path brings it again', () => {
    const mirror = new Mirror();
    mirror.accept([at(1, 'a', 'ADDED'), at(2, 'a')]);
    expect(mirror.accept([at(1, 'a', 'ADDED'), at(2, 'a'), at(3, 'a', 'DELETED')]).map((e) => e.type)).toEqual([
      'DELETED',
    ]);
    expect(mirror.bucket('Project').has('a')).toBe(false);
  });

  it('reset turns what it held into a snapshot with the events that tell the difference', () => {
    const mirror = new Mirror();
    mirror.accept([at(1, 'kept', 'ADDED'), at(2, 'changed', 'ADDED'), at(3, 'gone', 'ADDED'), at(5, 'early')]);
    const snapshot = [at(1, 'kept').object, at(7, 'changed').object, at(8, 'new').object];
    expect(names(mirror.reset(snapshot, 9))).toEqual(['MODIFIED changed 7', 'ADDED new 8', 'DELETED gone 3']);
    expect(mirror.version).toBe(9);
    expect(mirror.hasGap()).toBe(false);
    expect(mirror.reset([], 4)).toEqual([]);
  });
});
