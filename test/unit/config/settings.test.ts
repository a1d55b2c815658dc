import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isDeepStrictEqual } from 'node:util';
import {
  DEFAULT_SETTINGS,
  loadSettings,
  parseSettings,
  SETTINGS_SCHEMA_FILE,
  SettingsError,
  type OperatorSettings,
} from '../../../src/config/settings.js';
import { projectSettingsResolver } from '../../../src/config/settings-defaults.js';
import { loadSchemaFile } from '../../../src/model/schemas.js';
import { parseDocument } from 'yaml';

const FILE = '/etc/luma/settings.yaml';

function errorOf(fn: () => unknown): SettingsError {
  try {
    fn();
  } catch (error) {
    if (error instanceof SettingsError) return error;
    throw error;
  }
  throw new Error('expected an error');
}

/** Every value of a settings object by its dotted path; a list is one value. */
function leaves(value: object, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const name = prefix + key;
    if (typeof child === 'object' && child !== null && !Array.isArray(child))
      Object.assign(out, leaves(child as object, `${name}.`));
    else out[name] = child;
  }
  return out;
}

/** The file's settings only: what differs from the defaults. */
function changed(text: string): Partial<OperatorSettings> {
  const settings = parseSettings(text, FILE);
  return Object.fromEntries(
    Object.entries(settings).filter(
      ([key, value]) => !isDeepStrictEqual(value, DEFAULT_SETTINGS[key as keyof OperatorSettings]),
    ),
  );
}

describe('parseSettings', () => {
  it('reads every known setting', () => {
    const text =
      'defaultIdleTimeout: 30s\ndefaultMemory: 1Gi\nresyncInterval: 1m30s\nstopTimeout: 1500ms\nstoppedRetention: 2h\ninstance: ci-run-7\nlogHeartbeatInterval: 500ms\n';
    expect(changed(text)).toEqual({
      defaultIdleTimeoutMs: 30_000,
      defaultMemoryBytes: 2 ** 30,
      resyncIntervalMs: 90_000,
      stopTimeoutSeconds: 2,
      stoppedRetentionMs: 7_200_000,
      instance: 'ci-run-7',
      logHeartbeatIntervalMs: 500,
    });
  });

  it('gives the defaults for an empty file or a file of comments', () => {
    expect(parseSettings('', FILE)).toEqual(DEFAULT_SETTINGS);
    expect(parseSettings('# nothing here\n', FILE)).toEqual(DEFAULT_SETTINGS);
  });

  it('accepts an instance name of 40 characters', () => {
    expect(changed(`instance: ${'a'.repeat(40)}\n`)).toEqual({ instance: 'a'.repeat(40) });
  });
});

// Each bad file is refused like a bad manifest: file:line:column, the field's path, what
// was expected and what was found.
describe('settings.schema.json', () => {
  const schema = loadSchemaFile(SETTINGS_SCHEMA_FILE) as { properties: Record<string, { properties?: object }> };
  const every = `
defaultIdleTimeout: 2m
defaultMemory: 1Gi
resyncInterval: 20s
stopTimeout: 3s
stoppedRetention: 2h
revisionHistoryLimit: 3
maxUploadBytes: 1000
maxContextBytes: 2000
maxContextEntries: 30
instance: every
logHeartbeatInterval: 1s
leases: { minTtl: 1m, maxTtl: 3h, minCpu: 100m, maxCpu: 3, minMemory: 128Mi, maxMemory: 3Gi, defaultCpu: 1, defaultMemory: 1Gi, maxActive: 7, gracePeriod: 3s }
prices: { vcpuSecond: 1, gibSecond: 2, currency: EUR }
imageAllowlist: [busybox]
pool: { batchSize: 5, batchSpacing: 2s }
sync: { debounce: 1s, emptyGracePeriod: 1m, maxPruneShare: 1, writeFinish: 1s }
webhooks: { urls: [http://127.0.0.1:1/], queueSize: 9, maxAttempts: 9, retryDelay: 9s, timeout: 9s, secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw }
compat: { anonymous: [v1] }
admission: { memoryLimit: 4Gi, unlimitedContainerMemory: 1Gi }
`;

  it('names every key the file above sets, and no other', () => {
    const written = parseDocument(every).toJS() as Record<string, Record<string, unknown>>;
    expect(Object.keys(written).sort()).toEqual(Object.keys(schema.properties).sort());
    for (const [key, value] of Object.entries(written)) {
      const section = schema.properties[key]?.properties;
      if (section && typeof value === 'object' && !Array.isArray(value))
        expect(Object.keys(value).sort(), key).toEqual(Object.keys(section).sort());
    }
  });

  it('is read in full: a file setting every key changes every setting but force-prune', () => {
    const before = leaves(DEFAULT_SETTINGS);
    const after = leaves(parseSettings(every, FILE));
    const unchanged = Object.keys(after).filter((key) => isDeepStrictEqual(after[key], before[key]));
    expect(unchanged).toEqual(['sync.forcePrune']);
  });
});

describe('parseSettings: a bad file', () => {
  it.each([
    [
      'defaultIdleTimeout: soon\n',
      '1:21: defaultIdleTimeout: expected a duration such as 90s, 5m or 1h30m, got "soon"',
    ],
    ['resyncInterval: 10\n', '1:17: resyncInterval: expected string; quote the value ("10")'],
    ['stopTimeout: -1s\n', '1:14: stopTimeout: expected a duration such as 90s, 5m or 1h30m, got "-1s"'],
    ['stoppedRetention: [1h]\n', '1:19: stoppedRetention: expected string, got a list'],
    [
      'instance: Bad_Name\n',
      '1:11: instance: expected lower-case letters, digits and dashes, starting and ending with a letter or digit (such as prod), got "Bad_Name"',
    ],
    ['instance: 42\n', '1:11: instance: expected string; quote the value ("42")'],
    [`instance: ${'a'.repeat(41)}\n`, '1:11: instance: expected at most 40 characters, got 41'],
    ['instance: -leading\n', '1:11: instance: expected lower-case letters'],
    ['logHeartbeatInterval: 50ms\n', '1:23: logHeartbeatInterval: expected at least 100ms, got "50ms"'],
    ['logHeartbeatInterval: often\n', '1:23: logHeartbeatInterval: expected a duration'],
    ['defaultMemory: 256m\n', '1:16: defaultMemory: expected a memory size such as 256Mi, 1Gi or 512M, got "256m"'],
    ['defaultMemory: 1Mi\n', '1:16: defaultMemory: expected a memory size between 6Mi and 1Ti, got "1Mi"'],
    ['maxUploadBytes: 0\n', '1:17: maxUploadBytes: expected an integer of at least 1, got 0'],
    ['defaultIdleTimeout: 30s\nidleTimeout: 30s\n', '2:1: idleTimeout: unknown field "idleTimeout"'],
    ['- a\n- b\n', '1:1: expected a mapping or an empty value, got a list'],
    ['just text\n', '1:1: expected a mapping or an empty value, got string "just text"'],
    ['a: [1\n', '2:1: invalid YAML: flow sequence in block collection'],
    ['leases:\n  maxTtl: soon\n', '2:11: leases.maxTtl: expected a duration such as 90s, 5m or 1h30m, got "soon"'],
    ['leases:\n  minTtl: 0s\n', '2:11: leases.minTtl: expected a duration greater than 0, got "0s"'],
    ['leases:\n  minTtl: 3h\n', '2:11: leases.minTtl: expected at most leases.maxTtl (2h), got 3h'],
    ['leases:\n  maxTtl: 1m\n', '2:11: leases.maxTtl: expected at least leases.minTtl (5m), got 1m'],
    ['leases:\n  minTtl: 30m\n  maxTtl: 10m\n', '2:11: leases.minTtl: expected at most leases.maxTtl (10m), got 30m'],
    ['leases:\n  minCpu: lots\n', '2:11: leases.minCpu: expected a CPU quantity such as 500m, 1.5 or 2, got "lots"'],
    ['leases:\n  maxCpu: 100\n', '2:11: leases.maxCpu: expected a CPU quantity between 10m and 64, got 100'],
    ['leases:\n  maxCpu: 200m\n', '2:11: leases.maxCpu: expected at least leases.minCpu (250m), got 200m'],
    ['leases:\n  minMemory: 1Mi\n', '2:14: leases.minMemory: expected a memory size between 6Mi and 1Ti, got "1Mi"'],
    ['leases:\n  minMemory: 4Gi\n', '2:14: leases.minMemory: expected at most leases.maxMemory (2Gi), got 4Gi'],
    [
      'leases:\n  defaultCpu: 4\n',
      '2:15: leases.defaultCpu: expected a value between leases.minCpu (250m) and leases.maxCpu (2), got 4',
    ],
    [
      'leases:\n  minCpu: 500m\n',
      '1:1: leases.defaultCpu: expected a value between leases.minCpu (500m) and leases.maxCpu (2), got 250m (the built-in default; set leases.defaultCpu within the bounds)',
    ],
    [
      'leases:\n  defaultMemory: 128Mi\n',
      '2:18: leases.defaultMemory: expected a value between leases.minMemory (256Mi) and leases.maxMemory (2Gi), got 128Mi',
    ],
    ['leases:\n  maxActive: 0\n', '2:14: leases.maxActive: expected an integer of at least 1, got 0'],
    ['leases:\n  maxActive: 2.5\n', '2:14: leases.maxActive: expected integer, got number 2.5'],
    ['leases:\n  gracePeriod: 10\n', '2:16: leases.gracePeriod: expected string; quote the value ("10")'],
    ['leases: 5m\n', '1:9: leases: expected a mapping or an empty value, got string "5m"'],
    [
      'leases:\n  ttl: 5m\n',
      '2:3: leases.ttl: unknown field "ttl" (allowed: minTtl, maxTtl, minCpu, maxCpu, minMemory, maxMemory, defaultCpu, defaultMemory, maxActive, gracePeriod)',
    ],
    ['prices:\n  vcpuSecond: -1\n', '2:15: prices.vcpuSecond: expected a number of at least 0, got -1'],
    ['prices:\n  gibSecond: "0.1"\n', '2:14: prices.gibSecond: expected number, got string "0.1"'],
    [
      'prices:\n  currency: dollars\n',
      '2:13: prices.currency: expected a three-letter currency code such as USD or EUR, got "dollars"',
    ],
    ['prices: [1]\n', '1:9: prices: expected a mapping or an empty value, got a list'],
    ['prices:\n  cpu: 1\n', '2:3: prices.cpu: unknown field "cpu" (allowed: vcpuSecond, gibSecond, currency)'],
    ['imageAllowlist: busybox\n', '1:17: imageAllowlist: expected a list, got string "busybox"'],
    ['imageAllowlist:\n', '1:1: imageAllowlist: expected a list, got an empty value'],
    ['imageAllowlist:\n  - busybox\n  - 42\n', '3:5: imageAllowlist[1]: expected string; quote the value ("42")'],
    [
      'imageAllowlist:\n  - "bad pattern"\n',
      '2:5: imageAllowlist[0]: expected an image pattern made of the characters of an image reference and *',
    ],
    ['imageAllowlist:\n  - ""\n', '2:5: imageAllowlist[0]: expected a non-empty string'],
    ['pool:\n  batchSize: 0\n', '2:14: pool.batchSize: expected an integer of at least 1, got 0'],
    ['pool:\n  batchSpacing: fast\n', '2:17: pool.batchSpacing: expected a duration'],
    ['pool:\n  size: 1\n', '2:3: pool.size: unknown field "size" (allowed: batchSize, batchSpacing)'],
    ['sync:\n  debounce: soon\n', '2:13: sync.debounce: expected a duration'],
    ['sync:\n  maxPruneShare: 0\n', '2:18: sync.maxPruneShare: expected a number greater than 0, got 0'],
    ['sync:\n  maxPruneShare: 50%\n', '2:18: sync.maxPruneShare: expected number, got string "50%"'],
    ['sync:\n  maxPruneShare: 1.5\n', '2:18: sync.maxPruneShare: expected a number of at most 1, got 1.5'],
    [
      'sync:\n  prune: false\n',
      '2:3: sync.prune: unknown field "prune" (allowed: debounce, emptyGracePeriod, maxPruneShare, writeFinish)',
    ],
    [
      'webhooks:\n  urls: [ftp://example.com/]\n',
      '2:10: webhooks.urls[0]: expected an http:// or https:// URL, got "ftp://example.com/"',
    ],
    [
      'webhooks:\n  urls: ["http://exa mple.com/"]\n',
      '2:10: webhooks.urls[0]: expected an http:// or https:// URL, got "http://exa mple.com/"',
    ],
    ['webhooks:\n  url: https://example.com/\n', '2:3: webhooks.url: unknown field "url"; did you mean "urls"?'],
    ['webhooks:\n  queueSize: 0\n', '2:14: webhooks.queueSize: expected an integer of at least 1, got 0'],
    ['webhooks:\n  timeout: 0s\n', '2:12: webhooks.timeout: expected a duration greater than 0, got "0s"'],
    [
      'webhooks:\n  secret: hunter2\n',
      '2:11: webhooks.secret: expected whsec_ followed by base64 (for example: echo "whsec_$(openssl rand -base64 32)")',
    ],
    ['webhooks:\n  secret: whsec_c2hvcnQ=\n', '2:11: webhooks.secret: the key is 5 bytes; at least 24 are needed'],
    [
      'compat:\n  anonymous: [v2]\n',
      '2:15: compat.anonymous[0]: expected one of v1, containerPool, containerLease, orchestrator, got "v2"',
    ],
    [
      'compat:\n  containerLease:\n    domian: x\n',
      '3:13: compat.containerLease.domian: unknown setting (known here: imageTypes, domain, allowedOrigins)',
    ],
    ['admission:\n  memoryLimit: lots\n', '2:16: admission.memoryLimit: expected a memory size such as 256Mi'],
    [
      'admission:\n  memoryLimit: 1Ki\n',
      '2:16: admission.memoryLimit: expected a memory size between 6Mi and 1Ti, got "1Ki"',
    ],
    ['admission:\n  limit: 1Gi\n', '2:3: admission.limit: unknown field "limit"'],
    ['admission: 4Gi\n', '1:12: admission: expected a mapping or an empty value, got string "4Gi"'],
    // A timer's delay: 0 and anything above 2^31-1 ms run as 1 ms in node.
    ['resyncInterval: 0s\n', '1:17: resyncInterval: expected a duration greater than 0, got "0s"'],
    ['resyncInterval: 600h\n', '1:17: resyncInterval: expected at most 576h (a timer cannot wait longer), got "600h"'],
    ['logHeartbeatInterval: 1000h\n', '1:23: logHeartbeatInterval: expected at most 576h'],
    ['webhooks:\n  retryDelay: 999999h\n', '2:15: webhooks.retryDelay: expected at most 576h'],
    ['sync:\n  debounce: 9999h\n', '2:13: sync.debounce: expected at most 576h'],
    // A second document would be ignored: refused, not read in part.
    ['resyncInterval: 1s\n---\nresyncInterval: 2s\n', '2:1: invalid YAML: source contains multiple documents'],
  ])('%j is refused at file:line:column with the path', (text, expected) => {
    const error = errorOf(() => parseSettings(text, FILE));
    expect(error.message.startsWith(`${FILE}:${expected}`), error.message).toBe(true);
    expect(error.issues.length).toBeGreaterThan(0);
  });

  it('names every problem of the file at once, in reading order', () => {
    const error = errorOf(() => parseSettings('pool:\n  batchSize: 0\nresyncInterval: soon\ninstance: X\n', FILE));
    expect(error.issues.map((issue) => `${issue.line}:${issue.column} ${issue.path}`)).toEqual([
      '2:14 pool.batchSize',
      '3:17 resyncInterval',
      '4:11 instance',
    ]);
  });
});

describe('parseSettings: leases, prices, image allowlist, pool', () => {
  const full = `
leases:
  minTtl: 1m
  maxTtl: 4h
  minCpu: 100m
  maxCpu: 4
  minMemory: 128Mi
  maxMemory: 4Gi
  defaultCpu: 500m
  defaultMemory: 512Mi
  maxActive: 50
  gracePeriod: 30s
prices:
  vcpuSecond: 0.00002
  gibSecond: 0.000002
  currency: EUR
imageAllowlist:
  - registry.example.com/**
  - busybox
pool:
  batchSize: 4
  batchSpacing: 500ms
`;

  it('reads every lease, price, allowlist and pool setting', () => {
    expect(changed(full)).toEqual({
      leaseBounds: {
        minTtlMs: 60_000,
        maxTtlMs: 4 * 3_600_000,
        minCpuMillis: 100,
        maxCpuMillis: 4_000,
        minMemoryBytes: 128 * 2 ** 20,
        maxMemoryBytes: 4 * 2 ** 30,
      },
      leaseDefaults: { cpuMillis: 500, memoryBytes: 512 * 2 ** 20 },
      maxActiveLeases: 50,
      leaseGracePeriodMs: 30_000,
      prices: { perVcpuSecond: 0.00002, perGibSecond: 0.000002, currency: 'EUR' },
      imageAllowlist: ['registry.example.com/**', 'busybox'],
      poolBatchSize: 4,
      poolBatchSpacingMs: 500,
    });
  });

  it('has the documented defaults', () => {
    expect(DEFAULT_SETTINGS).toMatchObject({
      leaseBounds: {
        minTtlMs: 5 * 60_000,
        maxTtlMs: 120 * 60_000,
        minCpuMillis: 250,
        maxCpuMillis: 2_000,
        minMemoryBytes: 256 * 2 ** 20,
        maxMemoryBytes: 2 * 2 ** 30,
      },
      leaseDefaults: { cpuMillis: 250, memoryBytes: 256 * 2 ** 20 },
      maxActiveLeases: 20,
      leaseGracePeriodMs: 10_000,
      prices: { perVcpuSecond: 0.000024, perGibSecond: 0.0000025, currency: 'USD' },
      poolBatchSize: 2,
      poolBatchSpacingMs: 1_000,
    });
    expect(DEFAULT_SETTINGS.imageAllowlist).toBeUndefined();
  });

  it('keeps the defaults of the keys a section leaves out', () => {
    expect(changed('leases:\n  maxTtl: 60m\nprices:\n  currency: EUR\n')).toEqual({
      leaseBounds: { ...DEFAULT_SETTINGS.leaseBounds, maxTtlMs: 3_600_000 },
      prices: { ...DEFAULT_SETTINGS.prices, currency: 'EUR' },
    });
  });

  it('reads CPU and memory written as plain YAML numbers (cores, bytes)', () => {
    const settings = parseSettings('leases:\n  maxCpu: 1.5\n  maxMemory: 1073741824\n', FILE);
    expect(settings.leaseBounds).toMatchObject({ maxCpuMillis: 1_500, maxMemoryBytes: 2 ** 30 });
  });

  it('accepts an empty section, and price 0 (a free installation), and an empty allowlist (nothing may run)', () => {
    expect(parseSettings('leases:\npool:\n', FILE)).toEqual(DEFAULT_SETTINGS);
    expect(parseSettings('prices:\n  vcpuSecond: 0\n  gibSecond: 0\n', FILE).prices).toMatchObject({
      perVcpuSecond: 0,
      perGibSecond: 0,
    });
    expect(parseSettings('imageAllowlist: []\n', FILE).imageAllowlist).toEqual([]);
  });
});

describe('parseSettings: sync', () => {
  it('reads the watched directory settings, keeping the defaults of the keys left out', () => {
    expect(parseSettings('sync:\n  debounce: 50ms\n  maxPruneShare: 1\n  writeFinish: 1s\n', FILE).sync).toEqual({
      debounceMs: 50,
      emptyGracePeriodMs: 300_000,
      maxPruneShare: 1,
      forcePrune: false,
      writeFinishMs: 1_000,
    });
    expect(parseSettings('sync:\n  emptyGracePeriod: 1h\n', FILE).sync).toEqual({
      ...DEFAULT_SETTINGS.sync,
      emptyGracePeriodMs: 3_600_000,
    });
  });

  it('has the documented defaults, and force-prune is off unless the flag says so', () => {
    expect(DEFAULT_SETTINGS.sync).toEqual({
      debounceMs: 300,
      emptyGracePeriodMs: 300_000,
      maxPruneShare: 0.5,
      forcePrune: false,
      writeFinishMs: 2_000,
    });
  });
});

describe('loadSettings', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'luma-settings-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives the defaults without a file or LUMA_INSTANCE', async () => {
    expect(await loadSettings(undefined, {})).toEqual(DEFAULT_SETTINGS);
  });

  it('hands out copies: changing loaded settings never changes the defaults', async () => {
    const settings = await loadSettings(undefined, {});
    settings.leaseBounds.maxTtlMs = 1;
    expect(DEFAULT_SETTINGS.leaseBounds.maxTtlMs).toBe(120 * 60_000);
  });

  it('lays a leases section over the defaults, keeping the rest', async () => {
    const file = path.join(dir, 'luma.yaml');
    await writeFile(file, 'leases:\n  maxActive: 3\nimageAllowlist: [luma/**]\n');
    const settings = await loadSettings(file, {});
    expect(settings).toEqual({ ...DEFAULT_SETTINGS, maxActiveLeases: 3, imageAllowlist: ['luma/**'] });
  });

  it('lays the file over the defaults', async () => {
    const file = path.join(dir, 'luma.yaml');
    await writeFile(file, 'defaultIdleTimeout: 5s\n');
    expect(await loadSettings(file, {})).toEqual({ ...DEFAULT_SETTINGS, defaultIdleTimeoutMs: 5_000 });
  });

  it("hands the controller the file's project defaults, resolved once", async () => {
    const file = path.join(dir, 'luma.yaml');
    await writeFile(file, 'defaultIdleTimeout: 5s\ndefaultMemory: 1Gi\n');
    const resolver = projectSettingsResolver(await loadSettings(file, {}));
    expect(resolver.forProject({ image: 'hello', hostnames: ['hello.localhost'] })).toMatchObject({
      idleTimeoutMs: 5_000,
      memoryBytes: 2 ** 30,
    });
  });

  it('lets LUMA_INSTANCE override the file', async () => {
    const file = path.join(dir, 'luma.yaml');
    await writeFile(file, 'instance: from-file\n');
    expect((await loadSettings(file, {})).instance).toBe('from-file');
    expect((await loadSettings(file, { LUMA_INSTANCE: 'from-env' })).instance).toBe('from-env');
  });

  it.each(['Upper', 'under_score', '-dash', `a${'b'.repeat(40)}`])('refuses LUMA_INSTANCE=%j', async (value) => {
    const failure = loadSettings(undefined, { LUMA_INSTANCE: value });
    await expect(failure).rejects.toBeInstanceOf(SettingsError);
    await expect(failure).rejects.toThrow(
      `LUMA_INSTANCE: expected lower-case letters, digits and dashes, got "${value}"`,
    );
  });

  it('names a config file it cannot read', async () => {
    const missing = path.join(dir, 'missing.yaml');
    await expect(loadSettings(missing, {})).rejects.toThrow(`cannot read the config file ${missing}: ENOENT`);
  });

  it('names the file, line and column when its content is refused', async () => {
    const file = path.join(dir, 'luma.yaml');
    await writeFile(file, 'stopTimeout: forever\n');
    await expect(loadSettings(file, {})).rejects.toThrow(`${file}:1:14: stopTimeout: `);
  });
});

describe('webhooks settings', () => {
  it('reads URLs and delivery limits, keeping defaults for what is not set', () => {
    const text = [
      'webhooks:',
      '  urls: [https://hooks.example.com/luma, "http://127.0.0.1:9000/x"]',
      '  retryDelay: 250ms',
      '  maxAttempts: 8',
      '',
    ].join('\n');
    expect(parseSettings(text, FILE).webhooks).toEqual({
      urls: ['https://hooks.example.com/luma', 'http://127.0.0.1:9000/x'],
      queueSize: DEFAULT_SETTINGS.webhooks.queueSize,
      maxAttempts: 8,
      retryDelayMs: 250,
      timeoutMs: DEFAULT_SETTINGS.webhooks.timeoutMs,
    });
    expect(DEFAULT_SETTINGS.webhooks.urls).toEqual([]);
  });
});

describe('admission settings', () => {
  it('reads the memory limit and what an unlimited container counts for; no limit by default', () => {
    expect(parseSettings('admission:\n  memoryLimit: 6Gi\n  unlimitedContainerMemory: 1Gi\n', FILE).admission).toEqual({
      memoryLimitBytes: 6 * 2 ** 30,
      unlimitedContainerBytes: 2 ** 30,
    });
    expect(parseSettings('admission:\n  memoryLimit: 512Mi\n', FILE).admission).toEqual({
      memoryLimitBytes: 512 * 2 ** 20,
      unlimitedContainerBytes: 512 * 2 ** 20,
    });
    expect(DEFAULT_SETTINGS.admission).toEqual({ unlimitedContainerBytes: 512 * 2 ** 20 });
  });
});
