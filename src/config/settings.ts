import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { parseDuration, QuantityError } from '../model/quantities.js';

// Operator settings (`--config FILE`): what the person running Luma decides, as opposed
// to what app owners declare in manifests. Later issues add lease bounds, prices, the
// image allowlist and pool batching here.

export const DEFAULT_SETTINGS = {
  /** Idle timeout for projects that do not declare one. */
  defaultIdleTimeoutMs: 60_000,
  /** How often every object is reconciled even when no event announced a change. */
  resyncIntervalMs: 10_000,
  /** Grace between SIGTERM and SIGKILL when an idle container is stopped. */
  stopTimeoutSeconds: 10,
  /** Names this installation in container labels; tests give each run its own. */
  instance: 'default',
  /** Stopped containers are kept this long for a fast restart, then removed. */
  stoppedRetentionMs: 3_600_000,
  /** Uploaded build contexts: the archive itself, and what it may unpack to. */
  maxUploadBytes: 256 * 1024 * 1024,
  contextLimits: { maxUnpackedBytes: 512 * 1024 * 1024, maxEntries: 20_000 },
  /** A followed log (SSE, WebSocket) sends a heartbeat this often, so idle streams stay open. */
  logHeartbeatIntervalMs: 15_000,
};

export interface OperatorSettings {
  defaultIdleTimeoutMs: number;
  resyncIntervalMs: number;
  stopTimeoutSeconds: number;
  instance: string;
  stoppedRetentionMs: number;
  maxUploadBytes: number;
  contextLimits: { maxUnpackedBytes: number; maxEntries: number };
  logHeartbeatIntervalMs: number;
}

export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

const KNOWN_KEYS = ['defaultIdleTimeout', 'resyncInterval', 'stopTimeout', 'stoppedRetention', 'maxUploadBytes', 'maxContextBytes', 'maxContextEntries', 'instance', 'logHeartbeatInterval'];

function positiveInteger(file: string, key: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new SettingsError(`${file}: ${key}: expected a positive whole number, got ${JSON.stringify(value)}`);
  return value;
}
const INSTANCE_PATTERN = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;

function durationSetting(file: string, key: string, value: unknown): number {
  if (typeof value !== 'string') throw new SettingsError(`${file}: ${key}: expected a duration such as 10s, got ${JSON.stringify(value)}`);
  try {
    return parseDuration(value);
  } catch (error) {
    if (error instanceof QuantityError) throw new SettingsError(`${file}: ${key}: ${error.message}`);
    throw error;
  }
}

export function parseSettings(text: string, file: string): Partial<OperatorSettings> {
  const document = parseDocument(text);
  if (document.errors.length > 0) throw new SettingsError(`${file}: ${document.errors[0]?.message ?? 'invalid YAML'}`);
  const raw: unknown = document.toJS() ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new SettingsError(`${file}: expected a mapping of settings`);
  const settings: Partial<OperatorSettings> = {};
  for (const [key, value] of Object.entries(raw)) {
    switch (key) {
      case 'defaultIdleTimeout':
        settings.defaultIdleTimeoutMs = durationSetting(file, key, value);
        break;
      case 'resyncInterval':
        settings.resyncIntervalMs = durationSetting(file, key, value);
        break;
      case 'stopTimeout':
        settings.stopTimeoutSeconds = Math.ceil(durationSetting(file, key, value) / 1000);
        break;
      case 'stoppedRetention':
        settings.stoppedRetentionMs = durationSetting(file, key, value);
        break;
      case 'maxUploadBytes':
        settings.maxUploadBytes = positiveInteger(file, key, value);
        break;
      case 'maxContextBytes':
        settings.contextLimits = { ...(settings.contextLimits ?? DEFAULT_SETTINGS.contextLimits), maxUnpackedBytes: positiveInteger(file, key, value) };
        break;
      case 'maxContextEntries':
        settings.contextLimits = { ...(settings.contextLimits ?? DEFAULT_SETTINGS.contextLimits), maxEntries: positiveInteger(file, key, value) };
        break;
      case 'logHeartbeatInterval': {
        const interval = durationSetting(file, key, value);
        if (interval < 100) throw new SettingsError(`${file}: ${key}: expected at least 100ms, got ${JSON.stringify(value)}`);
        settings.logHeartbeatIntervalMs = interval;
        break;
      }
      case 'instance':
        if (typeof value !== 'string' || !INSTANCE_PATTERN.test(value)) {
          throw new SettingsError(`${file}: instance: expected lower-case letters, digits and dashes (at most 40), got ${JSON.stringify(value)}`);
        }
        settings.instance = value;
        break;
      default:
        throw new SettingsError(`${file}: unknown setting "${key}" (known: ${KNOWN_KEYS.join(', ')})`);
    }
  }
  return settings;
}

/** Defaults, then the config file, then LUMA_INSTANCE (so a test run can isolate itself). */
export async function loadSettings(configFile: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<OperatorSettings> {
  let fromFile: Partial<OperatorSettings> = {};
  if (configFile) {
    let text: string;
    try {
      text = await readFile(configFile, 'utf8');
    } catch (error) {
      throw new SettingsError(`cannot read the config file ${configFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    fromFile = parseSettings(text, configFile);
  }
  const settings: OperatorSettings = { ...DEFAULT_SETTINGS, ...fromFile };
  if (env.LUMA_INSTANCE) {
    if (!INSTANCE_PATTERN.test(env.LUMA_INSTANCE)) throw new SettingsError(`LUMA_INSTANCE: expected lower-case letters, digits and dashes, got "${env.LUMA_INSTANCE}"`);
    settings.instance = env.LUMA_INSTANCE;
  }
  return settings;
}
