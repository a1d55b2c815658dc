import { describe, expect, it } from 'vitest';
import { age, describe as describeObject, formatEvents, formatObjects, table } from '../../../src/cli/format.js';
import { colourWanted, makeStyle, PLAIN } from '../../../src/cli/style.js';
import type { LumaEvent } from '../../../src/events/event-log.js';
import { API_VERSION, type LeaseObject, type ProjectObject, type RevisionObject } from '../../../src/model/types.js';

const NOW = Date.parse('2025-01-01T12:00:00.000Z');

function ago(ms: number): string {
  return new Date(NOW - ms).toISOString();
}

function project(name: string, overrides: Partial<ProjectObject> = {}): ProjectObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name, uid: 'u-1', generation: 2, creationTimestamp: new Date().toISOString() },
    spec: { image: 'hello:latest', hostnames: [`${name}.localhost`] },
    ...overrides,
  };
}

describe('age', () => {
  it.each([
    [0, '0s'],
    [59_000, '59s'],
    [119_999, '119s'],
    [120_000, '2m'],
    [119 * 60_000, '119m'],
    [120 * 60_000, '2h'],
    [47 * 3_600_000, '47h'],
    [48 * 3_600_000, '2d'],
    [400 * 86_400_000, '400d'],
  ])('%d ms ago → %s', (ms, expected) => {
    expect(age(ago(ms), NOW)).toBe(expected);
  });

  it('shows a timestamp in the future (clock skew) as 0s', () => {
    expect(age(new Date(NOW + 5_000).toISOString(), NOW)).toBe('0s');
  });

  it('shows <unknown> without a timestamp', () => {
    expect(age(undefined, NOW)).toBe('<unknown>');
  });

  // BUG (src/cli/format.ts:10): an unparseable timestamp gives NaN, and every comparison
  // with NaN is false, so age() prints "NaNd". Fix: `const parsed = Date.parse(timestamp);
  // if (Number.isNaN(parsed)) return '<invalid>';` (kubectl prints <invalid>).
  it('does not print NaN for a timestamp it cannot read', () => {
    expect(age('yesterday-ish', NOW)).not.toMatch(/NaN/);
  });
});

describe('table', () => {
  it('aligns every column on the widest cell plus three spaces, without trailing spaces', () => {
    const text = table([
      ['NAME', 'READY', 'STATUS'],
      ['a-rather-long-name', '1/1', 'Running'],
      ['b', '0/10', 'Idle'],
    ]);
    expect(text).toBe(
      [
        'NAME                 READY   STATUS',
        'a-rather-long-name   1/1     Running',
        'b                    0/10    Idle',
        '',
      ].join('\n'),
    );
    const lines = text.trimEnd().split('\n');
    for (const column of ['READY', 'STATUS']) {
      const start = lines[0]!.indexOf(column);
      for (const line of lines.slice(1)) expect(line[start - 1]).toBe(' ');
    }
    for (const line of lines) expect(line).toBe(line.trimEnd());
  });

  it('does not pad an empty last column', () => {
    expect(
      table([
        ['NAME', 'URL'],
        ['web', ''],
      ]),
    ).toBe('NAME   URL\nweb\n');
  });
});

describe('formatObjects', () => {
  it('prints projects as a table with hostnames', () => {
    const web = project('web', {
      spec: { image: 'hello:latest', hostnames: ['web.localhost', 'www.localhost'], scaling: { maxInstances: 3 } },
      status: { phase: 'Running', instances: { running: 2, starting: 0, stopped: 0, paused: 0 } },
    });
    const text = formatObjects('Project', [web, project('api')], 'table', false);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+READY\s+STATUS\s+AGE\s+HOSTNAMES$/);
    expect(lines[1]).toMatch(/^web\s+2\/3\s+Running\s+\d+s\s+web\.localhost,www\.localhost$/);
    expect(lines[2]).toMatch(/^api\s+0\/1\s+Pending\s+\d+s\s+api\.localhost$/);
  });

  it('adds image and URL columns in wide output', () => {
    const web = project('web', { status: { phase: 'Idle', image: 'hello@sha', url: 'http://web.localhost:8080' } });
    const lines = formatObjects('Project', [web], 'wide', false).trimEnd().split('\n');
    expect(lines[0]).toMatch(/HOSTNAMES\s+IMAGE\s+URL$/);
    expect(lines[1]).toMatch(/web\.localhost\s+hello@sha\s+http:\/\/web\.localhost:8080$/);
  });

  // BUG (src/cli/format.ts:22): the READY column divides by `spec.scaling.maxInstances ?? 1`,
  // but resolveProjectSettings defaults maxInstances to max(1, minInstances). A project
  // with `minInstances: 3` and no maxInstances runs 3 instances and prints READY "3/1".
  // Fix: use `scaling.maxInstances ?? Math.max(DEFAULT_MAX_INSTANCES, scaling.minInstances ?? 0)`
  // (or resolveProjectSettings(spec).maxInstances).
  it('shows the effective maxInstances when only minInstances is declared', () => {
    const web = project('web', {
      spec: { image: 'hello:latest', hostnames: ['web.localhost'], scaling: { minInstances: 3 } },
      status: { phase: 'Running', instances: { running: 3, starting: 0, stopped: 0, paused: 0 } },
    });
    const line = formatObjects('Project', [web], 'table', false).split('\n')[1];
    expect(line).toMatch(/^web\s+3\/3\s/);
  });

  it('prints a revision with its project and number, and its image when wide', () => {
    const revision: RevisionObject = {
      apiVersion: API_VERSION,
      kind: 'Revision',
      metadata: { name: 'web-2', creationTimestamp: new Date().toISOString() },
      spec: { project: 'web', projectUid: 'u-1', number: 2, image: 'hello:v2', template: {} },
      status: { phase: 'Ready', readyAt: new Date().toISOString() },
    };
    const pending: RevisionObject = { ...revision, metadata: { name: 'web-3' }, status: { phase: 'Pending' } };
    const lines = formatObjects('Revision', [revision, pending], 'wide', false).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+READY\s+STATUS\s+AGE\s+PROJECT\s+NUMBER\s+IMAGE$/);
    expect(lines[1]).toMatch(/^web-2\s+True\s+Ready\s+\d+s\s+web\s+2\s+hello:v2$/);
    expect(lines[2]).toMatch(/^web-3\s+Unknown\s+Pending\s/);
  });

  it('prints the Ready condition for other kinds, and a lease its project', () => {
    const lease: LeaseObject = {
      apiVersion: API_VERSION,
      kind: 'Lease',
      metadata: { name: 'l1', creationTimestamp: new Date().toISOString() },
      spec: { project: 'web', ttl: '10m' },
      status: {
        phase: 'Active',
        expiresAt: new Date(Date.now() + 300_500).toISOString(),
        conditions: [{ type: 'Ready', status: 'True', reason: 'Up', message: '', lastTransitionTime: ago(0) }],
      },
    };
    const lines = formatObjects('Lease', [lease], 'table', false).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+READY\s+STATUS\s+AGE\s+PROJECT\s+EXPIRES-IN$/);
    expect(lines[1]).toMatch(/^l1\s+True\s+Active\s+\d+s\s+web\s+5m$/);
    const terminating = formatObjects(
      'Lease',
      [{ ...lease, metadata: { ...lease.metadata, deletionTimestamp: ago(0) } }],
      'table',
      false,
    ).split('\n')[1];
    expect(terminating).toMatch(/^l1\s+True\s+Terminating\s/);
  });

  it('prints one object or a List as JSON and YAML', () => {
    const web = project('web');
    expect(JSON.parse(formatObjects('Project', [web], 'json', true))).toEqual(web);
    expect(JSON.parse(formatObjects('Project', [web], 'json', false))).toEqual({
      apiVersion: API_VERSION,
      kind: 'List',
      items: [web],
    });
    expect(formatObjects('Project', [web], 'yaml', true)).toContain('kind: Project\n');
    expect(formatObjects('Project', [web], 'yaml', false)).toMatch(
      /^apiVersion: luma\.dev\/v1alpha1\nkind: List\nitems:\n/,
    );
  });
});

describe('describe', () => {
  it('prints metadata, spec, status and a conditions table', () => {
    const web = project('web', {
      status: {
        observedGeneration: 2,
        phase: 'Running',
        url: 'http://web.localhost:8080',
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'Running',
            message: '1 instance(s) serving',
            lastTransitionTime: new Date().toISOString(),
          },
        ],
      },
    });
    const text = describeObject(web);
    expect(text).toContain('Name:         web\n');
    expect(text).toContain('Generation:   2 (observed 2)\n');
    expect(text).toContain('Phase:        Running\n');
    expect(text).toContain('  url: http://web.localhost:8080');
    expect(text).toMatch(
      /Conditions:\n {2}TYPE\s+STATUS\s+REASON\s+SINCE\s+MESSAGE\n {2}Ready\s+True\s+Running\s+\d+s\s+1 instance\(s\) serving\nEvents:\n {2}<none>\n$/,
    );
  });

  it('says <none> without conditions or events', () => {
    expect(describeObject(project('web'))).toMatch(/Conditions:\n {2}<none>\nEvents:\n {2}<none>\n$/);
  });

  it('lists recent events with their repeats', () => {
    const text = describeObject(
      project('web'),
      [
        event({
          type: 'Warning',
          reason: 'StartFailed',
          count: 3,
          firstTimestamp: ago(300_000),
          lastTimestamp: ago(10_000),
        }),
      ],
      PLAIN,
      NOW,
    );
    expect(text).toMatch(
      /Events:\n {2}TYPE\s+REASON\s+AGE\s+FROM\s+MESSAGE\n {2}Warning\s+StartFailed\s+10s \(x3 over 5m\)\s+controller\s+it broke\n$/,
    );
  });

  it('shows a Terminating object and what it waits for', () => {
    const text = describeObject(
      project('web', { metadata: { name: 'web', deletionTimestamp: ago(0), finalizers: ['luma.dev/containers'] } }),
      [],
      PLAIN,
      NOW,
    );
    expect(text).toContain('Deleting:     since 2025-01-01T12:00:00.000Z, waiting for luma.dev/containers\n');
    expect(text).toContain('Phase:        Terminating\n');
  });
});

function event(overrides: Partial<LumaEvent> = {}): LumaEvent {
  return {
    seq: 1,
    type: 'Normal',
    reason: 'Started',
    message: 'it broke',
    object: { kind: 'Project', name: 'web' },
    source: 'controller',
    count: 1,
    firstTimestamp: ago(0),
    lastTimestamp: ago(0),
    ...overrides,
  };
}

describe('events', () => {
  it('prints LAST SEEN, TYPE, REASON, OBJECT, COUNT and MESSAGE, counting repeats', () => {
    const lines = formatEvents(
      [
        event(),
        event({
          type: 'Warning',
          reason: 'StartFailed',
          count: 4,
          firstTimestamp: ago(180_000),
          lastTimestamp: ago(5_000),
        }),
      ],
      PLAIN,
      NOW,
    )
      .trimEnd()
      .split('\n');
    expect(lines[0]).toMatch(/^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+COUNT\s+MESSAGE$/);
    expect(lines[1]).toMatch(/^0s\s+Normal\s+Started\s+project\/web\s+1\s+it broke$/);
    expect(lines[2]).toMatch(/^5s \(x4 over 3m\)\s+Warning\s+StartFailed\s+project\/web\s+4\s+it broke$/);
  });
});

describe('colour', () => {
  const colour = makeStyle(true);

  it('colours STATUS (and READY for images and leases) but keeps the columns aligned', () => {
    const running = project('a-long-name', { status: { phase: 'Running' } });
    const failed = project('b', { status: { phase: 'Failed' } });
    const text = formatObjects('Project', [running, failed], 'table', false, colour);
    expect(text).toContain('\x1b[32mRunning\x1b[39m');
    expect(text).toContain('\x1b[31mFailed\x1b[39m');
    const plain = formatObjects('Project', [running, failed], 'table', false);
    // eslint-disable-next-line no-control-regex -- ESC starts every ANSI colour sequence.
    expect(text.replace(/\x1b\[[0-9;]*m/g, '')).toBe(plain);
  });

  it('is plain without a terminal and with NO_COLOR, and on a terminal otherwise', () => {
    expect(colourWanted({ isTTY: true }, {})).toBe(true);
    expect(colourWanted({ isTTY: false }, {})).toBe(false);
    expect(colourWanted({}, {})).toBe(false);
    expect(colourWanted({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colourWanted({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(
      formatObjects('Project', [project('web', { status: { phase: 'Running' } })], 'table', false, makeStyle(false)),
    ).not.toContain('\x1b');
  });
});

describe('-o name', () => {
  it('prints kind/name, one per line', () => {
    expect(formatObjects('Project', [project('web'), project('api')], 'name', false)).toBe(
      'project/web\nproject/api\n',
    );
  });
});
