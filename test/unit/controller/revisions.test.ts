import { describe, expect, it } from 'vitest';
import {
  imagesOfRevisions,
  revisionFor,
  revisionStatus,
  revisionsOf,
  revisionsToPrune,
  templateOf,
} from '../../../src/controller/revisions.js';
import { API_VERSION, type ProjectObject, type ProjectSpec, type RevisionObject } from '../../../src/model/types.js';

// The pure decisions about revisions: what part of a spec makes one, when a new one is
// due, how they are named and numbered, and which old ones go.

const SPEC: ProjectSpec = {
  image: 'web',
  hostnames: ['web.localhost'],
  env: { A: '1' },
  port: 8080,
  scaling: { maxInstances: 3 },
  tls: true,
  pool: { size: 1 },
};

function project(spec: ProjectSpec = SPEC, uid = 'u1'): ProjectObject {
  return { apiVersion: API_VERSION, kind: 'Project', metadata: { name: 'web', uid }, spec };
}

function revision(number: number, image = 'img:1', uid = 'u1', project = 'web'): RevisionObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Revision',
    metadata: { name: `${project}-${number}` },
    spec: { project, projectUid: uid, number, image, template: templateOf(SPEC) },
  };
}

describe('templateOf', () => {
  it('keeps what runs and leaves out what only routes or scales', () => {
    expect(templateOf(SPEC)).toEqual({ image: 'web', env: { A: '1' }, port: 8080 });
  });

  it('counts a field it does not know as one that runs', () => {
    const spec = { ...SPEC, args: ['--serve'] } as ProjectSpec;
    expect(templateOf(spec)).toMatchObject({ args: ['--serve'] });
  });
});

describe('revisionFor', () => {
  it('makes revision 1 of a project that has none, labelled with its project', () => {
    const { revision: made, created } = revisionFor([], project(), 'img:1');
    expect(created).toBe(true);
    expect(made.metadata).toEqual({ name: 'web-1', labels: { project: 'web' } });
    expect(made.spec).toEqual({
      project: 'web',
      projectUid: 'u1',
      number: 1,
      image: 'img:1',
      template: templateOf(SPEC),
    });
  });

  it('keeps the newest when it runs the same template and image', () => {
    const existing = [revision(1), revision(2)];
    expect(revisionFor(existing, project({ ...SPEC, hostnames: ['other.localhost'] }), 'img:1')).toEqual({
      revision: existing[1],
      created: false,
    });
  });

  it('numbers a new one after the newest, for a new image or a changed template', () => {
    expect(revisionFor([revision(3)], project(), 'img:2').revision.metadata.name).toBe('web-4');
    expect(revisionFor([revision(3)], project({ ...SPEC, env: { A: '2' } }), 'img:1').revision.spec.number).toBe(4);
  });

  it('makes a new one when a spec goes back to what an older revision ran', () => {
    const existing = [revision(1, 'img:1'), revision(2, 'img:2')];
    expect(revisionFor(existing, project(), 'img:1').revision.metadata.name).toBe('web-3');
  });
});

describe('revisionsOf', () => {
  it("is this very project's, oldest first", () => {
    const all = [revision(2), revision(1), revision(1, 'img:1', 'old-uid'), revision(1, 'img:1', 'u1', 'web-x')];
    expect(revisionsOf(all, project()).map((each) => each.metadata.name)).toEqual(['web-1', 'web-2']);
  });
});

describe('revisionsToPrune', () => {
  const five = [1, 2, 3, 4, 5].map((number) => revision(number));

  it('removes all but the newest `limit`', () => {
    expect(revisionsToPrune(five, 3, new Set()).map((each) => each.spec.number)).toEqual([1, 2]);
  });

  it('never removes one it is told to keep, nor the newest', () => {
    expect(revisionsToPrune(five, 3, new Set(['web-1'])).map((each) => each.spec.number)).toEqual([2]);
    expect(revisionsToPrune(five, 0, new Set()).map((each) => each.spec.number)).toEqual([1, 2, 3, 4]);
  });
});

describe('imagesOfRevisions', () => {
  it('lists each image once', () => {
    expect(imagesOfRevisions([revision(1, 'a'), revision(2, 'b'), revision(3, 'a')])).toEqual(new Set(['a', 'b']));
  });
});

describe('revisionStatus', () => {
  const now = Date.parse('2026-01-01T00:00:00.000Z');

  it('is Ready since the first time it served, and Retired keeps that time', () => {
    const ready = revisionStatus(undefined, 'Ready', now);
    expect(ready).toEqual({ phase: 'Ready', readyAt: '2026-01-01T00:00:00.000Z' });
    expect(revisionStatus(ready, 'Retired', now + 1000)).toEqual({ phase: 'Retired', readyAt: ready.readyAt });
    expect(revisionStatus(ready, 'Ready', now + 1000)).toEqual(ready);
  });
});
