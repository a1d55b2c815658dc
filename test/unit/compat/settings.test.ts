import { describe, expect, it } from 'vitest';
import {
  DEFAULT_COMPAT_SETTINGS,
  parseCompatSettings,
  type CompatSection,
  type Fail,
} from '../../../src/compat/settings.js';

// The `compat:` section of the operator settings: what good values become, and the key and
// message each bad value is reported with (config/settings.ts prefixes them with `compat.`).

class SettingError extends Error {
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`${key}: ${reason}`);
  }
}

const fail: Fail = (key, message) => {
  throw new SettingError(key, message);
};

function parse(raw: unknown): CompatSection {
  return parseCompatSettings(raw, fail);
}

function failureOf(raw: unknown): SettingError {
  try {
    parse(raw);
  } catch (error) {
    if (error instanceof SettingError) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(raw)}`);
}

describe('parseCompatSettings: good settings', () => {
  const rows: { what: string; raw: unknown; expected: Partial<CompatSection> }[] = [
    { what: 'no section', raw: null, expected: { compat: DEFAULT_COMPAT_SETTINGS } },
    { what: 'an empty section', raw: {}, expected: { compat: DEFAULT_COMPAT_SETTINGS } },
    {
      what: 'anonymous systems and the /api/containers owner',
      raw: { anonymous: ['v1', 'containerPool'], containersApi: 'orchestrator' },
      expected: {
        compat: { ...DEFAULT_COMPAT_SETTINGS, anonymous: ['v1', 'containerPool'], containersApi: 'orchestrator' },
      },
    },
    {
      what: "the pool's seed names, as wrangler's strings",
      raw: {
        containerPool: {
          image: 'luma-test/app:latest',
          POOL_TARGET_INSTANCES: '3',
          POOL_BATCH_SIZE: '2',
          POOL_BATCH_SPACING_IN_SECONDS: '5',
        },
      },
      expected: {
        compat: {
          ...DEFAULT_COMPAT_SETTINGS,
          containerPool: {
            ...DEFAULT_COMPAT_SETTINGS.containerPool,
            image: 'luma-test/app:latest',
            targetInstances: 3,
          },
        },
        poolBatchSize: 2,
        poolBatchSpacingMs: 5000,
      },
    },
    {
      what: 'pool numbers as numbers, port and hostname',
      raw: { containerPool: { port: 3000, hostname: 'pool.example.com', defaultLifetimeSeconds: 60 } },
      expected: {
        compat: {
          ...DEFAULT_COMPAT_SETTINGS,
          containerPool: {
            ...DEFAULT_COMPAT_SETTINGS.containerPool,
            port: 3000,
            hostname: 'pool.example.com',
            defaultLifetimeSeconds: 60,
          },
        },
      },
    },
    {
      what: 'lease image types, short and long form, domain and origins',
      raw: {
        containerLease: {
          imageTypes: { ubuntu: 'ubuntu:22.04', web: { image: 'nginx:1', command: ['nginx', '-g'], port: 80 } },
          domain: 'lease.example.com',
          allowedOrigins: ['http://localhost:5173'],
        },
      },
      expected: {
        compat: {
          ...DEFAULT_COMPAT_SETTINGS,
          containerLease: {
            imageTypes: {
              ubuntu: { image: 'ubuntu:22.04' },
              web: { image: 'nginx:1', command: ['nginx', '-g'], port: 80 },
            },
            domain: 'lease.example.com',
            allowedOrigins: ['http://localhost:5173'],
          },
        },
      },
    },
    {
      what: 'orchestrator event URLs, normalised',
      raw: { orchestrator: { eventUrls: ['http://bridge:9000'] } },
      expected: { compat: { ...DEFAULT_COMPAT_SETTINGS, orchestrator: { eventUrls: ['http://bridge:9000/'] } } },
    },
  ];
  for (const row of rows) {
    it(row.what, () => {
      expect(parse(row.raw)).toEqual(row.expected);
    });
  }

  it('leaves the defaults untouched for the next parse', () => {
    parse({ anonymous: ['v1'], containerPool: { port: 1 } });
    expect(parse({}).compat).toEqual(DEFAULT_COMPAT_SETTINGS);
    expect(DEFAULT_COMPAT_SETTINGS.anonymous).toEqual([]);
  });
});

describe('parseCompatSettings: bad settings, each with its key and message', () => {
  const rows: { what: string; raw: unknown; key: string; message: RegExp }[] = [
    {
      what: 'a section that is a list',
      raw: ['v1'],
      key: '',
      message: /^expected a mapping of settings, got \["v1"\]$/,
    },
    {
      what: 'an unknown top key',
      raw: { kafka: {} },
      key: 'kafka',
      message: /^unknown setting \(known here: anonymous, containersApi/,
    },
    {
      what: 'anonymous not a list',
      raw: { anonymous: 'v1' },
      key: 'anonymous',
      message: /^expected a list, got "v1"$/,
    },
    {
      what: 'an unknown system in anonymous',
      raw: { anonymous: ['v1', 'k8s'] },
      key: 'anonymous[1]',
      message: /^expected one of v1, containerPool, containerLease, orchestrator, got "k8s"$/,
    },
    {
      what: 'a containersApi owner that is no system with that path',
      raw: { containersApi: 'v1' },
      key: 'containersApi',
      message: /^expected containerLease or orchestrator, got "v1"$/,
    },
    {
      what: 'containerPool a string',
      raw: { containerPool: 'x' },
      key: 'containerPool',
      message: /^expected a mapping/,
    },
    {
      what: 'an empty pool image',
      raw: { containerPool: { image: ' ' } },
      key: 'containerPool.image',
      message: /^expected a non-empty string, got " "$/,
    },
    {
      what: 'port 0',
      raw: { containerPool: { port: 0 } },
      key: 'containerPool.port',
      message: /^expected a whole number of at least 1, got 0$/,
    },
    {
      what: 'port 70000',
      raw: { containerPool: { port: 70000 } },
      key: 'containerPool.port',
      message: /^expected a port between 1 and 65535, got 70000$/,
    },
    {
      what: 'an upper-case hostname',
      raw: { containerPool: { hostname: 'Pool.Local' } },
      key: 'containerPool.hostname',
      message: /^expected a lower-case DNS name/,
    },
    {
      what: 'POOL_TARGET_INSTANCES negative',
      raw: { containerPool: { POOL_TARGET_INSTANCES: '-1' } },
      key: 'containerPool.POOL_TARGET_INSTANCES',
      message: /^expected a whole number of at least 0, got "-1"$/,
    },
    {
      what: 'POOL_BATCH_SIZE 0',
      raw: { containerPool: { POOL_BATCH_SIZE: 0 } },
      key: 'containerPool.POOL_BATCH_SIZE',
      message: /^expected a whole number of at least 1, got 0$/,
    },
    {
      what: 'POOL_BATCH_SPACING_IN_SECONDS fractional',
      raw: { containerPool: { POOL_BATCH_SPACING_IN_SECONDS: 1.5 } },
      key: 'containerPool.POOL_BATCH_SPACING_IN_SECONDS',
      message: /^expected a whole number of at least 0, got 1.5$/,
    },
    {
      what: 'an unknown pool key',
      raw: { containerPool: { size: 2 } },
      key: 'containerPool.size',
      message: /^unknown setting \(known here: image, port/,
    },
    {
      what: 'an imageType with capitals',
      raw: { containerLease: { imageTypes: { Ubuntu: 'ubuntu' } } },
      key: 'containerLease.imageTypes.Ubuntu',
      message: /^an imageType is lower-case letters, digits and dashes/,
    },
    {
      what: 'an imageType without image',
      raw: { containerLease: { imageTypes: { web: { port: 80 } } } },
      key: 'containerLease.imageTypes.web.image',
      message: /^expected a non-empty string, got undefined$/,
    },
    {
      what: 'an imageType command that is no list of strings',
      raw: { containerLease: { imageTypes: { web: { image: 'x', command: ['sh', 1] } } } },
      key: 'containerLease.imageTypes.web.command[1]',
      message: /^expected a non-empty string, got 1$/,
    },
    {
      what: 'an unknown imageType key',
      raw: { containerLease: { imageTypes: { web: { image: 'x', cpu: 1 } } } },
      key: 'containerLease.imageTypes.web.cpu',
      message: /^unknown setting \(known here: image, command, port\)$/,
    },
    {
      what: 'an origin with a path',
      raw: { containerLease: { allowedOrigins: ['http://localhost:5173/app'] } },
      key: 'containerLease.allowedOrigins[0]',
      message: /^expected an origin such as http:\/\/localhost:5173, got "http:\/\/localhost:5173\/app"$/,
    },
    {
      what: 'an event URL that is not HTTP',
      raw: { orchestrator: { eventUrls: ['kafka://broker:9092'] } },
      key: 'orchestrator.eventUrls[0]',
      message: /^expected an http:\/\/ or https:\/\/ URL, got "kafka:\/\/broker:9092"$/,
    },
    {
      what: 'an unknown orchestrator key',
      raw: { orchestrator: { topic: 't' } },
      key: 'orchestrator.topic',
      message: /^unknown setting \(known here: eventUrls\)$/,
    },
  ];
  for (const row of rows) {
    it(row.what, () => {
      const error = failureOf(row.raw);
      expect(error.key).toBe(row.key);
      expect(error.reason).toMatch(row.message);
    });
  }
});
