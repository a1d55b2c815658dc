// Operator settings of the compatibility layer: the `compat:` section of `--config FILE`.
// Read here, not in config/settings.ts, so that the earlier systems' knobs stay beside the
// code that honours them; config/settings.ts hands this section over and merges the result.

/** The earlier systems whose interfaces Luma serves (docs/compat.md). */
export const SYSTEMS = ['v1', 'containerPool', 'containerLease', 'orchestrator'] as const;
export type CompatSystem = (typeof SYSTEMS)[number];

/** The two systems that both claim `/api/containers`. */
export type ContainersApiOwner = 'containerLease' | 'orchestrator';

export interface LeaseImageType {
  /** An image reference, judged by the image allowlist like any other. */
  image: string;
  command?: string[];
  port?: number;
}

export interface CompatSettings {
  /** Systems whose routes answer without Luma's API token; none by default. */
  anonymous: CompatSystem[];
  /** Which system answers the unprefixed `/api/containers`; none by default (refused). */
  containersApi?: ContainersApiOwner;
  containerPool: {
    /** What pool containers run; POST /container is refused until it is set. */
    image?: string;
    port: number;
    /** Pool containers are reached at `<id>.<hostname>` through the proxy. */
    hostname: string;
    /** POOL_TARGET_INSTANCES: the pool project's spec.pool.size. */
    targetInstances: number;
    /** maxLifetimeInSeconds when a request gives none. */
    defaultLifetimeSeconds: number;
  };
  containerLease: {
    imageTypes: Record<string, LeaseImageType>;
    /** Leases of imageType T are reached at `<id>.T.<domain>`. */
    domain: string;
    /** Origins a browser may call from (CORS); a request with another Origin is refused. */
    allowedOrigins: string[];
  };
  orchestrator: {
    /** Lifecycle events with app_hostname are POSTed here (CloudEvents); none by default. */
    eventUrls: string[];
  };
}

export const DEFAULT_COMPAT_SETTINGS: CompatSettings = {
  anonymous: [],
  containerPool: {
    port: 8080,
    hostname: 'pool.localhost',
    targetInstances: 0,
    defaultLifetimeSeconds: 3600,
  },
  containerLease: { imageTypes: {}, domain: 'containerlease.localhost', allowedOrigins: [] },
  orchestrator: { eventUrls: [] },
};

/** What the section sets: its own settings, and Luma's pool batching (POOL_BATCH_*). */
export interface CompatSection {
  compat: CompatSettings;
  poolBatchSize?: number;
  poolBatchSpacingMs?: number;
}

/** Reports a bad value at `key` (relative to `compat.`) and never returns. */
export type Fail = (key: string, message: string) => never;

/** A bad value in the section: `key` is relative to `compat.`, dot-separated. */
export class CompatSettingsError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
    this.name = 'CompatSettingsError';
  }
}

/** The Fail the settings reader passes: the checks catch it and report it with its position. */
export const compatFailure: Fail = (key, message) => {
  throw new CompatSettingsError(key, message);
};

const TOP_KEYS = ['anonymous', 'containersApi', 'containerPool', 'containerLease', 'orchestrator'];
const POOL_KEYS = [
  'image',
  'port',
  'hostname',
  'defaultLifetimeSeconds',
  'POOL_TARGET_INSTANCES',
  'POOL_BATCH_SIZE',
  'POOL_BATCH_SPACING_IN_SECONDS',
];
const LEASE_KEYS = ['imageTypes', 'domain', 'allowedOrigins'];
const IMAGE_TYPE_KEYS = ['image', 'command', 'port'];
const ORCHESTRATOR_KEYS = ['eventUrls'];
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const IMAGE_TYPE = /^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/;

export function parseCompatSettings(raw: unknown, fail: Fail): CompatSection {
  const section = mapping(raw, '', fail);
  const compat = structuredClone(DEFAULT_COMPAT_SETTINGS);
  const result: CompatSection = { compat };
  for (const [key, value] of Object.entries(section)) {
    if (key === 'anonymous') compat.anonymous = systems(value, fail);
    else if (key === 'containersApi') compat.containersApi = containersApi(value, fail);
    else if (key === 'containerPool') Object.assign(result, parsePool(compat, mapping(value, key, fail), fail));
    else if (key === 'containerLease') compat.containerLease = parseLease(mapping(value, key, fail), fail);
    else if (key === 'orchestrator') compat.orchestrator = parseOrchestrator(mapping(value, key, fail), fail);
    else unknown('', key, TOP_KEYS, fail);
  }
  return result;
}

function parsePool(compat: CompatSettings, raw: Record<string, unknown>, fail: Fail): Omit<CompatSection, 'compat'> {
  const pool = compat.containerPool;
  const batching: Omit<CompatSection, 'compat'> = {};
  for (const [name, value] of Object.entries(raw)) {
    const key = `containerPool.${name}`;
    if (name === 'image') pool.image = text(value, key, fail);
    else if (name === 'port') pool.port = port(value, key, fail);
    else if (name === 'hostname') pool.hostname = hostname(value, key, fail);
    else if (name === 'defaultLifetimeSeconds') pool.defaultLifetimeSeconds = count(value, key, fail, 1);
    // The seed's own names, as its wrangler.jsonc wrote them (strings or numbers).
    else if (name === 'POOL_TARGET_INSTANCES') pool.targetInstances = count(value, key, fail, 0);
    else if (name === 'POOL_BATCH_SIZE') batching.poolBatchSize = count(value, key, fail, 1);
    else if (name === 'POOL_BATCH_SPACING_IN_SECONDS') batching.poolBatchSpacingMs = count(value, key, fail, 0) * 1000;
    else unknown('containerPool', name, POOL_KEYS, fail);
  }
  return batching;
}

function parseLease(raw: Record<string, unknown>, fail: Fail): CompatSettings['containerLease'] {
  const lease = structuredClone(DEFAULT_COMPAT_SETTINGS.containerLease);
  for (const [name, value] of Object.entries(raw)) {
    const key = `containerLease.${name}`;
    if (name === 'domain') lease.domain = hostname(value, key, fail);
    else if (name === 'allowedOrigins')
      lease.allowedOrigins = list(value, key, fail).map((o, i) => origin(o, `${key}[${i}]`, fail));
    else if (name === 'imageTypes') lease.imageTypes = imageTypes(mapping(value, key, fail), key, fail);
    else unknown('containerLease', name, LEASE_KEYS, fail);
  }
  return lease;
}

function imageTypes(raw: Record<string, unknown>, at: string, fail: Fail): Record<string, LeaseImageType> {
  const types: Record<string, LeaseImageType> = {};
  for (const [type, value] of Object.entries(raw)) {
    const key = `${at}.${type}`;
    if (!IMAGE_TYPE.test(type)) fail(key, 'an imageType is lower-case letters, digits and dashes (at most 22)');
    // `ubuntu: ubuntu:22.04` is the short form of `ubuntu: { image: ubuntu:22.04 }`.
    if (typeof value === 'string') {
      types[type] = { image: text(value, key, fail) };
      continue;
    }
    const fields = mapping(value, key, fail);
    const entry: LeaseImageType = { image: text(fields.image, `${key}.image`, fail) };
    for (const [name, field] of Object.entries(fields)) {
      if (name === 'command')
        entry.command = list(field, `${key}.command`, fail).map((arg, i) => text(arg, `${key}.command[${i}]`, fail));
      else if (name === 'port') entry.port = port(field, `${key}.port`, fail);
      else if (name !== 'image') unknown(key, name, IMAGE_TYPE_KEYS, fail);
    }
    types[type] = entry;
  }
  return types;
}

function parseOrchestrator(raw: Record<string, unknown>, fail: Fail): CompatSettings['orchestrator'] {
  const orchestrator = structuredClone(DEFAULT_COMPAT_SETTINGS.orchestrator);
  for (const [name, value] of Object.entries(raw)) {
    const key = `orchestrator.${name}`;
    if (name === 'eventUrls')
      orchestrator.eventUrls = list(value, key, fail).map((url, i) => httpUrl(url, `${key}[${i}]`, fail));
    else unknown('orchestrator', name, ORCHESTRATOR_KEYS, fail);
  }
  return orchestrator;
}

function systems(value: unknown, fail: Fail): CompatSystem[] {
  return list(value, 'anonymous', fail).map((name, index) => {
    if (!(SYSTEMS as readonly unknown[]).includes(name))
      fail(`anonymous[${index}]`, `expected one of ${SYSTEMS.join(', ')}, got ${show(name)}`);
    return name as CompatSystem;
  });
}

function containersApi(value: unknown, fail: Fail): ContainersApiOwner {
  if (value !== 'containerLease' && value !== 'orchestrator')
    fail('containersApi', `expected containerLease or orchestrator, got ${show(value)}`);
  return value;
}

function mapping(value: unknown, key: string, fail: Fail): Record<string, unknown> {
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    fail(key, `expected a mapping of settings, got ${show(value)}`);
  return value as Record<string, unknown>;
}

function list(value: unknown, key: string, fail: Fail): unknown[] {
  if (!Array.isArray(value)) fail(key, `expected a list, got ${show(value)}`);
  return value;
}

function text(value: unknown, key: string, fail: Fail): string {
  if (typeof value !== 'string' || value.trim() === '') fail(key, `expected a non-empty string, got ${show(value)}`);
  return value;
}

/** Whole numbers, also as strings: wrangler's vars are strings. */
function count(value: unknown, key: string, fail: Fail, min: number): number {
  const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < min)
    fail(key, `expected a whole number of at least ${min}, got ${show(value)}`);
  return number;
}

function port(value: unknown, key: string, fail: Fail): number {
  const number = count(value, key, fail, 1);
  if (number > 65535) fail(key, `expected a port between 1 and 65535, got ${show(value)}`);
  return number;
}

function hostname(value: unknown, key: string, fail: Fail): string {
  if (typeof value !== 'string' || !HOSTNAME.test(value))
    fail(key, `expected a lower-case DNS name such as pool.localhost, got ${show(value)}`);
  return value;
}

function origin(value: unknown, key: string, fail: Fail): string {
  const url = typeof value === 'string' && URL.canParse(value) ? new URL(value) : undefined;
  if (!url || url.origin !== value) fail(key, `expected an origin such as http://localhost:5173, got ${show(value)}`);
  return value;
}

function httpUrl(value: unknown, key: string, fail: Fail): string {
  const url = typeof value === 'string' && URL.canParse(value) ? new URL(value) : undefined;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    fail(key, `expected an http:// or https:// URL, got ${show(value)}`);
  return url.toString();
}

function unknown(section: string, key: string, known: readonly string[], fail: Fail): never {
  const where = section === '' ? key : `${section}.${key}`;
  return fail(where, `unknown setting (known here: ${known.join(', ')})`);
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}
