import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SecretBox, SecretBoxError } from '../../../src/secrets/secret-box.js';
import { openSecretBox, SECRET_KEY_FILE, SecretKeyError } from '../../../src/secrets/secret-key.js';

const slot = { secret: 'db', key: 'password' };
const value = Buffer.from('hunter2-correct-horse');

describe('SecretBox', () => {
  const box = new SecretBox(randomBytes(32));

  it('opens what it sealed, and the sealed form does not hold the value', () => {
    const sealed = box.seal(value, slot);
    expect(sealed.startsWith('v1:')).toBe(true);
    expect(sealed).not.toContain(value.toString('utf8'));
    expect(sealed).not.toContain(value.toString('base64'));
    expect(box.open(sealed, slot).equals(value)).toBe(true);
  });

  it('seals the same value differently each time (a fresh nonce)', () => {
    expect(box.seal(value, slot)).not.toBe(box.seal(value, slot));
  });

  it('refuses a value moved to another key or secret, altered, or sealed with another key', () => {
    const sealed = box.seal(value, slot);
    expect(() => box.open(sealed, { secret: 'db', key: 'user' })).toThrow(SecretBoxError);
    expect(() => box.open(sealed, { secret: 'other', key: 'password' })).toThrow(SecretBoxError);
    const [, nonce, body] = sealed.split(':');
    const altered = Buffer.from(body!, 'base64');
    altered[0] = altered[0]! ^ 1;
    expect(() => box.open(`v1:${nonce}:${altered.toString('base64')}`, slot)).toThrow(/does not open/);
    expect(() => new SecretBox(randomBytes(32)).open(sealed, slot)).toThrow(SecretBoxError);
    expect(() => box.open('plain text', slot)).toThrow(/not in a known sealed format/);
  });

  it('digests are stable per installation and differ between installations', () => {
    const key = randomBytes(32);
    const digest = new SecretBox(key).digest(value, slot);
    expect(digest).toMatch(/^hmac-sha256:[0-9a-f]{16}$/);
    expect(new SecretBox(key).digest(value, slot)).toBe(digest);
    expect(new SecretBox(randomBytes(32)).digest(value, slot)).not.toBe(digest);
    expect(new SecretBox(key).digest(Buffer.from('other'), slot)).not.toBe(digest);
  });

  it('gives equal values under other secrets or keys other digests', () => {
    const digest = box.digest(value, slot);
    expect(box.digest(value, { ...slot, key: `${slot.key}2` })).not.toBe(digest);
    expect(box.digest(value, { ...slot, secret: `${slot.secret}2` })).not.toBe(digest);
    // The slot's end is unambiguous: moving characters between name and key changes it.
    expect(box.digest(value, { secret: 'ab', key: 'c' })).not.toBe(box.digest(value, { secret: 'a', key: 'bc' }));
  });

  it('refuses a key of the wrong size', () => {
    expect(() => new SecretBox(randomBytes(16))).toThrow(/32 bytes/);
  });
});

describe('openSecretBox', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('makes a 0600 key in the state directory at first start, and reuses it after', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'luma-secret-key-'));
    const first = await openSecretBox({ stateDir: dir });
    const file = path.join(dir, SECRET_KEY_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(Buffer.from((await readFile(file, 'utf8')).trim(), 'base64')).toHaveLength(32);
    const second = await openSecretBox({ stateDir: dir });
    expect(second.open(first.seal(value, slot), slot).equals(value)).toBe(true);
  });

  it("uses the operator's key file (base64 or hex), and refuses one others can read", async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'luma-secret-key-'));
    const key = randomBytes(32);
    const file = path.join(dir, 'operator.key');
    await writeFile(file, key.toString('hex') + '\n', { mode: 0o600 });
    const box = await openSecretBox({ stateDir: path.join(dir, 'state'), keyFile: file });
    expect(new SecretBox(key).open(box.seal(value, slot), slot).equals(value)).toBe(true);
    await writeFile(path.join(dir, 'loose.key'), key.toString('base64'), { mode: 0o644 });
    await expect(openSecretBox({ stateDir: dir, keyFile: path.join(dir, 'loose.key') })).rejects.toThrow(
      /can be read by others.*chmod 600/,
    );
    await writeFile(path.join(dir, 'short.key'), randomBytes(8).toString('base64'), { mode: 0o600 });
    await expect(openSecretBox({ stateDir: dir, keyFile: path.join(dir, 'short.key') })).rejects.toThrow(
      SecretKeyError,
    );
    await expect(openSecretBox({ stateDir: dir, keyFile: path.join(dir, 'absent.key') })).rejects.toThrow(
      /does not exist/,
    );
  });
});
