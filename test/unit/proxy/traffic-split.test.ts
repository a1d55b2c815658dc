import { describe, expect, it } from 'vitest';
import { checkShares, WeightedSplit } from '../../../src/proxy/traffic-split.js';
import { RouteTable } from '../../../src/proxy/route-table.js';

describe('WeightedSplit', () => {
  it('gives 90/10 exactly over 1,000 picks, the small share spread out', () => {
    const split = new WeightedSplit([
      { service: 'web', revision: 'web-2', weight: 10 },
      { service: 'revision.web.1', revision: 'web-1', weight: 90 },
    ]);
    const picks = Array.from({ length: 1_000 }, () => split.next()?.revision);
    expect(picks.filter((revision) => revision === 'web-2')).toHaveLength(100);
    // Never two picks of the 10 % share in a row.
    expect(picks.some((revision, i) => revision === 'web-2' && picks[i + 1] === 'web-2')).toBe(false);
  });

  it('never picks a share of weight 0 (a tag-only revision)', () => {
    const split = new WeightedSplit([
      { service: 'a', revision: 'a', weight: 0 },
      { service: 'b', revision: 'b', weight: 100 },
    ]);
    expect(new Set(Array.from({ length: 50 }, () => split.next()?.revision))).toEqual(new Set(['b']));
  });

  it('refuses shares without weight or with a negative one', () => {
    expect(() => checkShares([])).toThrow(/at least one share/);
    expect(() => checkShares([{ service: 'a', revision: 'a', weight: 0 }])).toThrow(/weight above 0/);
    expect(() => checkShares([{ service: 'a', revision: 'a', weight: -1 }])).toThrow(/weight of a/);
  });
});

describe('RouteTable with a split', () => {
  it("sends each request to its revision's service, its own share to its own targets", () => {
    const routes = new RouteTable();
    routes.apply({
      service: 'revision.web.1',
      hosts: ['old---web.localhost'],
      targets: ['127.0.0.1:9001'],
      revision: 'web-1',
    });
    routes.apply({
      service: 'web',
      hosts: ['web.localhost'],
      targets: ['127.0.0.1:9002'],
      revision: 'web-2',
      split: [
        { service: 'web', revision: 'web-2', weight: 50 },
        { service: 'revision.web.1', revision: 'web-1', weight: 50 },
      ],
    });
    const web = routes.lookupHost('web.localhost');
    const split = web?.split;
    if (!web || !split) throw new Error('expected a split route');
    const served = Array.from({ length: 4 }, () => routes.pickShare(web, split, 'web.localhost').name).sort();
    expect(served).toEqual(['revision.web.1', 'revision.web.1', 'web', 'web']);
    expect(routes.lookupHost('old---web.localhost')?.name).toBe('revision.web.1');
    expect(routes.get('web')?.info().split).toHaveLength(2);
  });

  it('holds a share whose service is not deployed yet on the route itself; keeps the split until told []', () => {
    const routes = new RouteTable();
    const split = [{ service: 'revision.web.1', revision: 'web-1', weight: 100 }];
    routes.apply({ service: 'web', hosts: ['web.localhost'], targets: [], split });
    const web = routes.get('web');
    if (!web?.split) throw new Error('expected a split route');
    expect(routes.pickShare(web, web.split, 'web.localhost').name).toBe('web');
    routes.apply({ service: 'web', hosts: ['web.localhost'], targets: ['127.0.0.1:9002'] });
    expect(routes.get('web')?.split).toBeDefined();
    routes.apply({ service: 'web', hosts: ['web.localhost'], targets: [], split: [] });
    expect(routes.get('web')?.split).toBeUndefined();
  });
});
