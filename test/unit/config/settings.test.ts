import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, loadSettings, parseSettings, SettingsError } from '../../../src/config/settings.js';

const FILE = '/etc/luma/settings.yaml';

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('parseSettings', () => {
  it('reads every known setting', () => {
    const text =
      'defaultIdleTimeout: 30s\ndefaultMemory: 1Gi\nresyncInterval: 1m30s\nstopTimeout: 1500ms\nstoppedRetention: 2h\ninstance: ci-run-7\nlogHeartbeatInterval: 500ms\n';
    expect(parseSettings(text, FILE)).toEqual({
      defaultIdleTimeoutMs: 30_000,
      defaultMemoryBytes: 2 ** 30,
      resyncIntervalMs: 90_000,
      stopTimeoutSeconds: 2,
      stoppedRetentionMs: 7_200_000,
      instance: 'ci-run-7',
      logHeartbeatIntervalMs: 500,
    });
  });

  it('returns nothing for an empty file or a file of comments', () => {
    expect(parseSettings('', FILE)).toEqual({});
    expect(parseSettings('# nothing here\n', FILE)).toEqual({});
  });

  it.each([
    ['defaultIdleTimeout: soon\n', 'defaultIdleTimeout', 'expected a duration such as 90s, 5m or 1h30m, got "soon"'],
    ['resyncInterval: 10\n', 'resyncInterval', 'expected a duration such as 10s, got 10'],
    ['stopTimeout: -1s\n', 'stopTimeout', 'expected a duration'],
    ['stoppedRetention: [1h]\n', 'stoppedRetention', 'expected a duration such as 10s, got ["1h"]'],
    ['instance: Bad_Name\n', 'instance', 'expected lower-case letters, digits and dashes (at most 40), got "Bad_Name"'],
    ['instance: 42\n', 'instance', 'got 42'],
    [`instance: ${'a'.repeat(41)}\n`, 'instance', 'at most 40'],
    ['instance: -leading\n', 'instance', 'expected lower-case letters'],
    ['logHeartbeatInterval: 50ms\n', 'logHeartbeatInterval', 'expected at least 100ms, got "50ms"'],
    ['defaultMemory: 256m\n', 'defaultMemory', '256m'],
    ['defaultMemory: 1Mi\n', 'defaultMemory', 'expected a memory size between 6Mi and 1Ti, got "1Mi"'],
    ['logHeartbeatInterval: often\n', 'logHeartbeatInterval', 'expected a duration'],
  ])('%j is refused naming the file and the key', (text, key, detail) => {
    const error = errorOf(() => parseSettings(text, FILE));
    expect(error).toBeInstanceOf(SettingsError);
    expect(error.message.startsWith(`${FILE}: ${key}: `)).toBe(true);
    expect(error.message).toContain(detail);
  });

  it('accepts an instance name of 40 characters', () => {
    expect(parseSettings(`instance: ${'a'.repeat(40)}\n`, FILE)).toEqual({ instance: 'a'.repeat(40) });
  });

  it('refuses an unknown key, naming the file, the key and the known ones', () => {
    const error = errorOf(() => parseSettings('defaultIdleTimeout: 30s\nidleTimeout: 30s\n', FILE));
    expect(error).toBeInstanceOf(SettingsError);
    expect(error.message.startsWith(`${FILE}: unknown setting "idleTimeout" (known: `)).toBe(true);
    const known = /\(known: (.*)\)$/.exec(error.message)?.[1]?.split(', ') ?? [];
    // Every key the message offers is one parseSettings accepts.
    for (const key of known) expect(() => parseSettings(`${key}: 1s\n`, FILE), key).not.toThrow(/unknown setting/);
    expect(known).toEqual(
      expect.arrayContaining([
        'defaultIdleTimeout',
        'resyncInterval',
        'stopTimeout',
        'instance',
        'leases',
        'prices',
        'imageAllowlist',
        'pool',
      ]),
    );
  });

  it.each([
    ['- a\n- b\n', 'expected a mapping of settings'],
    ['just text\n', 'expected a mapping of settings'],
    ['a: [1\n', ''],
  ])('refuses %j as a whole, naming the file', (text, detail) => {
    const error = errorOf(() => parseSettings(text, FILE));
    expect(error).toBeInstanceOf(SettingsError);
    expect(error.message.startsWith(`${FILE}: `)).toBe(true);
    expect(error.message).toContain(detail);
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
    expect(parseSettings(full, FILE)).toEqual({
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
    const settings = parseSettings('leases:\n  maxTtl: 60m\nprices:\n  currency: EUR\n', FILE);
    expect(settings.leaseBounds).toEqual({ ...DEFAULT_SETTINGS.leaseBounds, maxTtlMs: 3_600_000 });
    expect(settings.leaseDefaults).toEqual(DEFAULT_SETTINGS.leaseDefaults);
    expect(settings.prices).toEqual({ ...DEFAULT_SETTINGS.prices, currency: 'EUR' });
    expect(settings.maxActiveLeases).toBeUndefined();
  });

  it('reads CPU and memory written as plain YAML numbers (cores, bytes)', () => {
    const settings = parseSettings('leases:\n  maxCpu: 1.5\n  maxMemory: 1073741824\n', FILE);
    expect(settings.leaseBounds).toMatchObject({ maxCpuMillis: 1_500, maxMemoryBytes: 2 ** 30 });
  });

  it('accepts an empty section, and price 0 (a free installation), and an empty allowlist (nothing may run)', () => {
    expect(parseSettings('leases:\npool:\n', FILE)).toMatchObject({
      leaseBounds: DEFAULT_SETTINGS.leaseBounds,
      poolBatchSize: 2,
    });
    expect(parseSettings('prices:\n  vcpuSecond: 0\n  gibSecond: 0\n', FILE).prices).toMatchObject({
      perVcpuSecond: 0,
      perGibSecond: 0,
    });
    expect(parseSettings('imageAllowlist: []\n', FILE).imageAllowlist).toEqual([]);
  });

  it.each([
    ['leases:\n  maxTtl: soon\n', 'leases.maxTtl', 'expected a duration such as 90s, 5m or 1h30m, got "soon"'],
    ['leases:\n  minTtl: 0s\n', 'leases.minTtl', 'expected a duration greater than 0, got "0s"'],
    ['leases:\n  minTtl: 3h\n', 'leases.minTtl', 'expected at most leases.maxTtl (2h), got 3h'],
    ['leases:\n  maxTtl: 1m\n', 'leases.maxTtl', 'expected at least leases.minTtl (5m), got 1m'],
    ['leases:\n  minTtl: 30m\n  maxTtl: 10m\n', 'leases.minTtl', 'expected at most leases.maxTtl (10m), got 30m'],
    ['leases:\n  minCpu: lots\n', 'leases.minCpu', 'expected a CPU quantity such as 500m, 1.5 or 2, got "lots"'],
    ['leases:\n  maxCpu: 100\n', 'leases.maxCpu', 'expected a CPU quantity between 10m and 64, got 100'],
    ['leases:\n  maxCpu: 200m\n', 'leases.maxCpu', 'expected at least leases.minCpu (250m), got 200m'],
    ['leases:\n  minMemory: 1Mi\n', 'leases.minMemory', 'expected a memory size between 6Mi and 1Ti, got "1Mi"'],
    ['leases:\n  minMemory: 4Gi\n', 'leases.minMemory', 'expected at most leases.maxMemory (2Gi), got 4Gi'],
    [
      'leases:\n  defaultCpu: 4\n',
      'leases.defaultCpu',
      'expected a value between leases.minCpu (250m) and leases.maxCpu (2), got 4',
    ],
    [
      'leases:\n  minCpu: 500m\n',
      'leases.defaultCpu',
      'got 250m (the built-in default; set leases.defaultCpu within the bounds)',
    ],
    [
      'leases:\n  defaultMemory: 128Mi\n',
      'leases.defaultMemory',
      'expected a value between leases.minMemory (256Mi) and leases.maxMemory (2Gi), got 128Mi',
    ],
    ['leases:\n  maxActive: 0\n', 'leases.maxActive', 'expected a positive whole number, got 0'],
    ['leases:\n  maxActive: 2.5\n', 'leases.maxActive', 'expected a positive whole number, got 2.5'],
    ['leases:\n  gracePeriod: 10\n', 'leases.gracePeriod', 'expected a duration such as 10s, got 10'],
    ['leases: 5m\n', 'leases', 'expected a mapping of settings, got "5m"'],
    ['prices:\n  vcpuSecond: -1\n', 'prices.vcpuSecond', 'expected a number of at least 0 such as 0.000024, got -1'],
    ['prices:\n  gibSecond: "0.1"\n', 'prices.gibSecond', 'got "0.1"'],
    [
      'prices:\n  currency: dollars\n',
      'prices.currency',
      'expected a three-letter currency code such as USD or EUR, got "dollars"',
    ],
    ['prices: [1]\n', 'prices', 'expected a mapping of settings'],
    ['imageAllowlist: busybox\n', 'imageAllowlist', 'expected a list of image patterns'],
    ['imageAllowlist:\n', 'imageAllowlist', 'leave the key out to allow every image), got null'],
    [
      'imageAllowlist:\n  - busybox\n  - 42\n',
      'imageAllowlist[1]',
      'expected an image pattern such as registry.example.com/team/*, got 42',
    ],
    [
      'imageAllowlist:\n  - "bad pattern"\n',
      'imageAllowlist[0]',
      'expected an image pattern made of the characters of an image reference and *',
    ],
    ['imageAllowlist:\n  - ""\n', 'imageAllowlist[0]', 'got an empty string'],
    ['pool:\n  batchSize: 0\n', 'pool.batchSize', 'expected a positive whole number, got 0'],
    ['pool:\n  batchSpacing: fast\n', 'pool.batchSpacing', 'expected a duration'],
    ['sync:\n  debounce: soon\n', 'sync.debounce', 'expected a duration'],
    ['sync:\n  emptyGracePeriod: 5\n', 'sync.emptyGracePeriod', 'expected a duration such as 10s, got 5'],
    [
      'sync:\n  maxPruneShare: 0\n',
      'sync.maxPruneShare',
      'expected a share greater than 0 and at most 1 such as 0.5, got 0',
    ],
    ['sync:\n  maxPruneShare: 50%\n', 'sync.maxPruneShare', 'got "50%"'],
    ['sync:\n  maxPruneShare: 1.5\n', 'sync.maxPruneShare', 'got 1.5'],
  ])('%j is refused naming the file and the key', (text, key, detail) => {
    const error = errorOf(() => parseSettings(text, FILE));
    expect(error).toBeInstanceOf(SettingsError);
    expect(error.message.startsWith(`${FILE}: ${key}: `), error.message).toBe(true);
    expect(error.message).toContain(detail);
  });

  it.each([
    ['leases:\n  ttl: 5m\n', 'leases.ttl', 'leases', 'minTtl, maxTtl'],
    ['prices:\n  cpu: 1\n', 'prices.cpu', 'prices', 'vcpuSecond, gibSecond, currency'],
    ['pool:\n  size: 1\n', 'pool.size', 'pool', 'batchSize, batchSpacing'],
    ['sync:\n  prune: false\n', 'sync.prune', 'sync', 'debounce, emptyGracePeriod, maxPruneShare, writeFinish'],
  ])('refuses the unknown key of %j, naming the known ones of its section', (text, key, section, known) => {
    const error = errorOf(() => parseSettings(text, FILE));
    expect(error).toBeInstanceOf(SettingsError);
    expect(
      error.message.startsWith(`${FILE}: unknown setting "${key}" (known in ${section}: ${known}`),
      error.message,
    ).toBe(true);
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

  it('names the file when its content is refused', async () => {
    const file = path.join(dir, 'luma.yaml');
    await writeFile(file, 'stopTimeout: forever\n');
    await expect(loadSettings(file, {})).rejects.toThrow(`${file}: stopTimeout: `);
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

  it('refuses a URL that is not http(s), naming the entry, and unknown keys, naming the known ones', () => {
    expect(() => parseSettings('webhooks:\n  urls: [ftp://example.com/]\n', FILE)).toThrow(
      `${FILE}: webhooks.urls[0]: expected an http:// or https:// URL, got "ftp://example.com/"`,
    );
    expect(() => parseSettings('webhooks:\n  url: https://example.com/\n', FILE)).toThrow(
      'unknown setting "webhooks.url" (known in webhooks: urls, queueSize, maxAttempts, retryDelay, timeout, secret)',
    );
    expect(() => parseSettings('webhooks:\n  queueSize: 0\n', FILE)).toThrow(SettingsError);
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

  it('refuses a bad size, naming the key, and unknown keys, naming the known ones', () => {
    expect(() => parseSettings('admission:\n  memoryLimit: lots\n', FILE)).toThrow(`${FILE}: admission.memoryLimit:`);
    expect(() => parseSettings('admission:\n  memoryLimit: 1Ki\n', FILE)).toThrow(
      `${FILE}: admission.memoryLimit: expected a memory size between`,
    );
    expect(() => parseSettings('admission:\n  limit: 1Gi\n', FILE)).toThrow(
      'unknown setting "admission.limit" (known in admission: memoryLimit, unlimitedContainerMemory)',
    );
    expect(() => parseSettings('admission: 4Gi\n', FILE)).toThrow(
      `${FILE}: admission: expected a mapping of settings, got "4Gi"`,
    );
  });
});
