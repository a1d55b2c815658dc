import { describe, expect, it } from 'vitest';
import { checkAdmission } from '../../../src/apply/admission.js';
import { applyDocuments, parseFiles } from '../../../src/apply/apply.js';
import { DEFAULT_SETTINGS, type OperatorSettings } from '../../../src/config/settings.js';
import { formatIssue, ManifestError, parseManifests, type ManifestIssue } from '../../../src/model/parse.js';
import { API_VERSION, type LeaseStatus } from '../../../src/model/types.js';
import type { FileStore } from '../../../src/store/file-store.js';
import { projectYaml, useTempFileStore } from '../../support/temp-file-store.js';

let store: FileStore;
useTempFileStore('luma-admission-', (opened) => (store = opened));

function leaseYaml(name: string, project: string, ttl = '30m', resources: string[] = []): string {
  return [
    `apiVersion: ${API_VERSION}`,
    'kind: Lease',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    `  project: ${project}`,
    `  ttl: ${ttl}`,
    ...resources,
    '',
  ].join('\n');
}

function imageRefYaml(name: string, ref: string): string {
  return [
    `apiVersion: ${API_VERSION}`,
    'kind: Image',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    `  ref: ${ref}`,
    '',
  ].join('\n');
}

function imageBuildYaml(name: string): string {
  return [
    `apiVersion: ${API_VERSION}`,
    'kind: Image',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  build:',
    '    context: ./app',
    '',
  ].join('\n');
}

async function storeProject(name: string, hostnames: string[], image = 'hello', maxConcurrent?: number): Promise<void> {
  await store.apply({
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name },
    spec: { image, hostnames, ...(maxConcurrent !== undefined ? { leases: { maxConcurrent } } : {}) },
  });
}

async function storeLease(name: string, project: string, phase?: LeaseStatus['phase']): Promise<void> {
  await store.apply({ apiVersion: API_VERSION, kind: 'Lease', metadata: { name }, spec: { project, ttl: '30m' } });
  if (phase) await store.updateStatus('Lease', name, { phase });
}

function issuesOf(fn: () => unknown): ManifestIssue[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ManifestError) return error.issues;
    throw error;
  }
  throw new Error('expected a ManifestError');
}

function settingsWith(overrides: Partial<OperatorSettings>): OperatorSettings {
  return { ...DEFAULT_SETTINGS, ...overrides };
}

describe('checkAdmission: names and hostnames', () => {
  it('refuses a hostname another project owns, with the file, line, column and path of the hostname', async () => {
    await storeProject('a', ['a.example.com']);
    const documents = parseManifests(projectYaml('b', ['b.example.com', 'a.example.com']), 'apps/b.yaml');
    const issues = issuesOf(() => checkAdmission(store, documents, DEFAULT_SETTINGS));
    expect(issues).toEqual([
      {
        file: 'apps/b.yaml',
        line: 9,
        column: 7,
        path: 'spec.hostnames[1]',
        message: 'hostname "a.example.com" is already routed to project "a"; hostnames must be unique across projects',
      },
    ]);
  });

  it('lets a project keep its own hostnames on update', async () => {
    await storeProject('a', ['a.example.com', 'www.example.com']);
    expect(() =>
      checkAdmission(
        store,
        parseManifests(projectYaml('a', ['a.example.com', 'www.example.com']), 'a.yaml'),
        DEFAULT_SETTINGS,
      ),
    ).not.toThrow();
  });

  it('judges against the store as it will be after the batch: a hostname may move between projects in one apply', async () => {
    await storeProject('a', ['shared.example.com']);
    const documents = parseManifests(
      `${projectYaml('a', ['a.example.com'])}---\n${projectYaml('b', ['shared.example.com'])}`,
      'all.yaml',
    );
    expect(() => checkAdmission(store, documents, DEFAULT_SETTINGS)).not.toThrow();
  });

  it('refuses two projects of one batch claiming the same hostname, at the second', () => {
    const documents = parseFiles([
      { path: 'one.yaml', content: projectYaml('one', ['same.example.com']) },
      { path: 'two.yaml', content: projectYaml('two', ['other.example.com', 'same.example.com']) },
    ]);
    const issues = issuesOf(() => checkAdmission(store, documents, DEFAULT_SETTINGS));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ file: 'two.yaml', line: 9, path: 'spec.hostnames[1]' });
    expect(issues[0]?.message).toContain('already routed to project "one"');
  });

  it('refuses the same object declared twice in one batch, pointing at both', () => {
    const documents = parseFiles([
      { path: 'first.yaml', content: projectYaml('web', ['web.example.com']) },
      { path: 'second.yaml', content: `# a comment\n${projectYaml('web', ['web.example.com'])}` },
    ]);
    const issues = issuesOf(() => checkAdmission(store, documents, DEFAULT_SETTINGS));
    expect(issues).toEqual([
      {
        file: 'second.yaml',
        line: 5,
        column: 9,
        path: 'metadata.name',
        message: 'Project/web is declared twice in this apply (also at first.yaml:4:9)',
      },
    ]);
  });

  it('allows the same name for objects of different kinds', () => {
    const image = `apiVersion: ${API_VERSION}\nkind: Image\nmetadata:\n  name: web\nspec:\n  ref: hello:latest\n`;
    const documents = parseManifests(`${image}---\n${projectYaml('web', ['web.example.com'])}`, 'web.yaml');
    expect(() => checkAdmission(store, documents, DEFAULT_SETTINGS)).not.toThrow();
  });

  it('reports every problem of the batch at once', async () => {
    await storeProject('a', ['a.example.com']);
    const documents = parseManifests(
      `${projectYaml('b', ['a.example.com'])}---\n${projectYaml('b', ['b.example.com'])}`,
      'b.yaml',
    );
    const issues = issuesOf(() => checkAdmission(store, documents, DEFAULT_SETTINGS));
    expect(issues.map((issue) => issue.path).sort()).toEqual(['metadata.name', 'spec.hostnames[0]']);
  });
});

describe('checkAdmission: lease bounds', () => {
  it('refuses a ttl above the maximum at the line of spec.ttl, naming the value, the limit and the setting', async () => {
    await storeProject('web', ['web.example.com']);
    const issues = issuesOf(() =>
      checkAdmission(store, parseManifests(leaseYaml('l1', 'web', '3h'), 'lease.yaml'), DEFAULT_SETTINGS),
    );
    expect(issues.map(formatIssue)).toEqual([
      'lease.yaml:7:8: spec.ttl: 3h is above the maximum of 120m (operator setting leases.maxTtl)',
    ]);
  });

  it('refuses every out-of-bounds field of a lease at once', () => {
    const yaml = leaseYaml('l1', 'web', '1m', ['  resources:', '    cpu: "4"', '    memory: 64Mi']);
    const issues = issuesOf(() => checkAdmission(store, parseManifests(yaml, 'lease.yaml'), DEFAULT_SETTINGS));
    expect(issues.map(formatIssue)).toEqual([
      'lease.yaml:7:8: spec.ttl: 1m is below the minimum of 5m (operator setting leases.minTtl)',
      'lease.yaml:9:10: spec.resources.cpu: 4 is above the maximum of 2 (operator setting leases.maxCpu)',
      'lease.yaml:10:13: spec.resources.memory: 64Mi is below the minimum of 256Mi (operator setting leases.minMemory)',
    ]);
  });

  it("follows the operator's bounds, not the built-in ones", () => {
    const settings = settingsWith({ leaseBounds: { ...DEFAULT_SETTINGS.leaseBounds, maxTtlMs: 10 * 60_000 } });
    const issues = issuesOf(() =>
      checkAdmission(store, parseManifests(leaseYaml('l1', 'web', '30m'), 'lease.yaml'), settings),
    );
    expect(issues[0]?.message).toBe('30m is above the maximum of 10m (operator setting leases.maxTtl)');
    expect(() =>
      checkAdmission(store, parseManifests(leaseYaml('l1', 'web', '10m'), 'lease.yaml'), settings),
    ).not.toThrow();
  });
});

describe('checkAdmission: image allowlist', () => {
  const allowlist = settingsWith({ imageAllowlist: ['registry.example.com/**', 'busybox', 'luma/**'] });

  it('allows everything without an allowlist', () => {
    expect(() =>
      checkAdmission(
        store,
        parseManifests(projectYaml('web', ['web.example.com'], 'evil:1'), 'web.yaml'),
        DEFAULT_SETTINGS,
      ),
    ).not.toThrow();
  });

  it('refuses a project whose image reference no pattern matches, at spec.image, naming the rule', () => {
    const issues = issuesOf(() =>
      checkAdmission(store, parseManifests(projectYaml('web', ['web.example.com'], 'evil:1'), 'web.yaml'), allowlist),
    );
    expect(issues.map(formatIssue)).toEqual([
      'web.yaml:6:10: spec.image: image "evil:1" is not allowed: it matches no pattern of the operator setting imageAllowlist [registry.example.com/**, busybox, luma/**]',
    ]);
  });

  it('allows references that a pattern matches', () => {
    for (const image of ['registry.example.com/team/app:1.2', 'busybox:1.36', 'busybox']) {
      expect(
        () =>
          checkAdmission(store, parseManifests(projectYaml('web', ['web.example.com'], image), 'web.yaml'), allowlist),
        image,
      ).not.toThrow();
    }
  });

  it('judges a project that names an Image by what the Image pulls, in the same batch or in the store', async () => {
    const batch = parseManifests(
      `${imageRefYaml('hello', 'evil:1')}---\n${projectYaml('web', ['web.example.com'])}`,
      'all.yaml',
    );
    const issues = issuesOf(() => checkAdmission(store, batch, allowlist));
    // The Image itself is refused too: pulling what may not run is wasted work.
    expect(issues.map((issue) => `${issue.path}: ${issue.message}`)).toEqual([
      expect.stringMatching(/^spec\.ref: image "evil:1" is not allowed: it matches no pattern of/),
      expect.stringMatching(/^spec\.image: image "evil:1" \(what Image "hello" pulls\) is not allowed/),
    ]);

    await store.apply({
      apiVersion: API_VERSION,
      kind: 'Image',
      metadata: { name: 'hello' },
      spec: { ref: 'busybox:1.36' },
    });
    expect(() =>
      checkAdmission(store, parseManifests(projectYaml('web', ['web.example.com']), 'web.yaml'), allowlist),
    ).not.toThrow();
  });

  it('judges a build by luma/<instance>/<name>', () => {
    const onlyRegistry = settingsWith({ imageAllowlist: ['registry.example.com/**'], instance: 'ci-7' });
    const batch = parseManifests(
      `${imageBuildYaml('hello')}---\n${projectYaml('web', ['web.example.com'])}`,
      'all.yaml',
    );
    const issues = issuesOf(() => checkAdmission(store, batch, onlyRegistry));
    expect(issues.map((issue) => `${issue.path}: ${issue.message}`)).toEqual([
      'spec.build: image "luma/ci-7/hello" (where this Image is built) is not allowed: it matches no pattern of the operator setting imageAllowlist [registry.example.com/**]',
      'spec.image: image "luma/ci-7/hello" (what Image "hello" builds) is not allowed: it matches no pattern of the operator setting imageAllowlist [registry.example.com/**]',
    ]);
    expect(() =>
      checkAdmission(store, batch, settingsWith({ imageAllowlist: ['luma/ci-7/*'], instance: 'ci-7' })),
    ).not.toThrow();
    expect(() =>
      checkAdmission(store, batch, settingsWith({ imageAllowlist: ['luma/other/*'], instance: 'ci-7' })),
    ).toThrow(ManifestError);
  });

  it("refuses a lease through its project's image, at spec.project", async () => {
    await storeProject('web', ['web.example.com'], 'evil:1');
    const issues = issuesOf(() =>
      checkAdmission(store, parseManifests(leaseYaml('l1', 'web'), 'lease.yaml'), allowlist),
    );
    expect(issues.map(formatIssue)).toEqual([
      'lease.yaml:6:12: spec.project: project "web" runs image "evil:1", which is not allowed: it matches no pattern of the operator setting imageAllowlist [registry.example.com/**, busybox, luma/**]',
    ]);
  });

  it('says so when the allowlist is empty', () => {
    const issues = issuesOf(() =>
      checkAdmission(
        store,
        parseManifests(projectYaml('web', ['web.example.com'], 'busybox'), 'web.yaml'),
        settingsWith({ imageAllowlist: [] }),
      ),
    );
    expect(issues[0]?.message).toBe(
      'image "busybox" is not allowed: the operator setting imageAllowlist is empty, so no image may run',
    );
  });
});

describe('applyDocuments with operator rules', () => {
  it('stores nothing of a multi-file apply when one lease is out of bounds', async () => {
    const documents = parseFiles([
      { path: 'web.yaml', content: projectYaml('web', ['web.example.com']) },
      { path: 'lease.yaml', content: leaseYaml('l1', 'web', '3h') },
    ]);
    const failure = applyDocuments(store, documents, { settings: DEFAULT_SETTINGS });
    await expect(failure).rejects.toThrow(
      'lease.yaml:7:8: spec.ttl: 3h is above the maximum of 120m (operator setting leases.maxTtl)',
    );
    expect(store.list('Project')).toEqual([]);
    expect(store.list('Lease')).toEqual([]);
  });

  it('refuses on a dry run too', async () => {
    const documents = parseManifests(projectYaml('web', ['web.example.com'], 'evil:1'), 'web.yaml');
    await expect(
      applyDocuments(store, documents, { settings: settingsWith({ imageAllowlist: ['busybox'] }), dryRun: true }),
    ).rejects.toBeInstanceOf(ManifestError);
  });
});

describe('checkAdmission: lease hostnames', () => {
  it('refuses a Lease whose hostname (<lease>.<first project hostname>) a project declares, at its name', async () => {
    await storeProject('web', ['web.localhost']);
    await storeProject('shop', ['shop.web.localhost']);
    const issues = issuesOf(() =>
      checkAdmission(store, parseManifests(leaseYaml('shop', 'web'), 'lease.yaml'), DEFAULT_SETTINGS),
    );
    expect(issues.map(formatIssue)).toEqual([
      'lease.yaml:4:9: metadata.name: this lease would be reached at "shop.web.localhost", a hostname project "shop" declares; choose another lease name',
    ]);
  });

  it('refuses a Project declaring the hostname of a lease not yet ended, and lets it have that of an ended one', async () => {
    await storeProject('web', ['web.localhost']);
    await storeLease('trial', 'web', 'Active');
    await storeLease('old', 'web', 'Expired');
    const documents = parseManifests(
      projectYaml('grab', ['grab.localhost', 'trial.web.localhost', 'old.web.localhost']),
      'grab.yaml',
    );
    const issues = issuesOf(() => checkAdmission(store, documents, DEFAULT_SETTINGS));
    expect(issues.map(formatIssue)).toEqual([
      'grab.yaml:9:7: spec.hostnames[1]: hostname "trial.web.localhost" is where lease "trial" of project "web" is reached; hostnames of projects and leases must differ',
    ]);
  });

  it('judges both against the batch: a lease and a project declared together, and a project whose first hostname moves', async () => {
    await storeProject('web', ['web.localhost']);
    const together = parseManifests(
      `${projectYaml('api', ['x.web.localhost'])}---\n${leaseYaml('x', 'web')}`,
      'both.yaml',
    );
    expect(issuesOf(() => checkAdmission(store, together, DEFAULT_SETTINGS)).map((issue) => issue.path)).toEqual([
      'spec.hostnames[0]',
      'metadata.name',
    ]);
    // A lease "a" of web lives at a.web.localhost; moving web's first hostname moves it to a.web.example.com.
    await storeLease('a', 'web');
    await storeProject('other', ['a.web.example.com']);
    const moved = parseManifests(projectYaml('web', ['web.example.com']), 'web.yaml');
    expect(issuesOf(() => checkAdmission(store, moved, DEFAULT_SETTINGS)).map(formatIssue)).toEqual([
      'web.yaml:8:7: spec.hostnames[0]: lease "a" of this project would be reached at "a.web.example.com", a hostname project "other" declares',
    ]);
  });

  it('lets a lease and its project be applied again unchanged', async () => {
    await storeProject('web', ['web.localhost']);
    await storeLease('trial', 'web', 'Active');
    const documents = parseManifests(
      `${projectYaml('web', ['web.localhost'])}---\n${leaseYaml('trial', 'web')}`,
      'again.yaml',
    );
    expect(() => checkAdmission(store, documents, DEFAULT_SETTINGS)).not.toThrow();
  });
});
