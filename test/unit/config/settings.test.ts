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
    const text = 'defaultIdleTimeout: 30s\nresyncInterval: 1m30s\nstopTimeout: 1500ms\nstoppedRetention: 2h\ninstance: ci-run-7\nlogHeartbeatInterval: 500ms\n';
    expect(parseSettings(text, FILE)).toEqual({
      defaultIdleTimeoutMs: 30_000,
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
    expect(known).toEqual(expect.arrayContaining(['defaultIdleTimeout', 'resyncInterval', 'stopTimeout', 'instance']));
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
    await expect(failure).rejects.toThrow(`LUMA_INSTANCE: expected lower-case letters, digits and dashes, got "${value}"`);
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
