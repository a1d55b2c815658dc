import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LedgerCorruptError, ledgerPath, UsageLedger, type UsageRecord } from '../../../src/usage/ledger.js';
import { usageRecord } from '../../support/usage-records.js';
import { ledgerCases } from './ledger.cases.js';

let dir: string;
let file: string;
let warnings: string[];
const open: UsageLedger[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'luma-ledger-'));
  file = ledgerPath(dir);
  warnings = [];
});

afterEach(async () => {
  for (const ledger of open.splice(0)) await ledger.close();
  await rm(dir, { recursive: true, force: true });
});

async function openLedger(): Promise<UsageLedger> {
  const ledger = await UsageLedger.open(file, { onWarning: (message) => warnings.push(message) });
  open.push(ledger);
  return ledger;
}

function line(record: UsageRecord): string {
  return `${JSON.stringify(record)}\n`;
}

async function lines(): Promise<string[]> {
  return (await readFile(file, 'utf8')).split('\n').filter((text) => text !== '');
}

describe('UsageLedger (the shared ledger suite)', () => {
  ledgerCases({ open: () => UsageLedger.open(ledgerPath(dir)) });
});

describe('UsageLedger', () => {
  it('lives at STATE/usage/ledger.jsonl, created empty and readable only by its owner', async () => {
    expect(file).toBe(path.join(dir, 'usage', 'ledger.jsonl'));
    const ledger = await openLedger();
    expect(ledger.records()).toEqual([]);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
  });

  it('appends one JSON line per record, which a reopened ledger reads back', async () => {
    const ledger = await openLedger();
    expect(await ledger.append(usageRecord({ lease: 'a' }))).toBe(true);
    expect(await ledger.append(usageRecord({ lease: 'b', reason: 'Released', fromPool: true }))).toBe(true);
    expect(ledger.has('uid-a')).toBe(true);
    expect(ledger.has('uid-c')).toBe(false);
    await ledger.close();
    open.splice(0);

    expect((await lines()).map((text) => (JSON.parse(text) as UsageRecord).lease)).toEqual(['a', 'b']);
    const reopened = await openLedger();
    expect(reopened.records()).toEqual([
      usageRecord({ lease: 'a' }),
      usageRecord({ lease: 'b', reason: 'Released', fromPool: true }),
    ]);
    expect(warnings).toEqual([]);
  });

  it('bills a lease once: a second record for its uid is refused, even after a restart', async () => {
    const ledger = await openLedger();
    expect(await ledger.append(usageRecord({ lease: 'a' }))).toBe(true);
    expect(await ledger.append(usageRecord({ lease: 'a', cost: 99 }))).toBe(false);
    await ledger.close();
    open.splice(0);
    const reopened = await openLedger();
    expect(await reopened.append(usageRecord({ lease: 'a', cost: 99 }))).toBe(false);
    expect(await lines()).toHaveLength(1);
    expect(reopened.records()[0]?.cost).toBe(0.001988);
  });

  it('writes one record when the same lease is appended twice at once', async () => {
    const ledger = await openLedger();
    const results = await Promise.all([
      ledger.append(usageRecord({ lease: 'a' })),
      ledger.append(usageRecord({ lease: 'a' })),
      ledger.append(usageRecord({ lease: 'b' })),
    ]);
    expect(results).toEqual([true, false, true]);
    expect((await lines()).map((text) => (JSON.parse(text) as UsageRecord).lease)).toEqual(['a', 'b']);
  });

  it('keeps only the fields of a record, in a fixed order, and hands out records nobody can change', async () => {
    const ledger = await openLedger();
    await ledger.append({ ...usageRecord({ lease: 'a' }), extra: 'dropped' } as UsageRecord);
    expect(Object.keys(JSON.parse((await lines())[0] ?? '{}') as object)).toEqual(Object.keys(usageRecord()));
    const [record] = ledger.records();
    expect(Object.isFrozen(record)).toBe(true);
  });

  it.each([
    [{ leaseUid: '' }, 'leaseUid: expected a non-empty string'],
    [{ cost: -1 }, 'cost: expected a number of at least 0, got -1'],
    [{ cost: Number.NaN }, 'cost: expected a number of at least 0'],
    [{ endedAt: 'yesterday' }, 'endedAt: expected an ISO 8601 time, got "yesterday"'],
    [{ reason: 'Deleted' }, 'reason: expected one of Expired, Released, Failed, IdleTimeout, got "Deleted"'],
  ])('refuses to append %j, writing nothing', async (overrides, message) => {
    const ledger = await openLedger();
    await expect(ledger.append(usageRecord(overrides as Partial<UsageRecord>))).rejects.toThrow(message);
    expect(await readFile(file, 'utf8')).toBe('');
    expect(ledger.records()).toEqual([]);
  });

  it('refuses appends once closed', async () => {
    const ledger = await openLedger();
    await ledger.close();
    await expect(ledger.append(usageRecord())).rejects.toThrow('is closed');
  });

  describe('after a crash', () => {
    it('ignores a torn last line with a warning naming it, cuts it off, and appends cleanly after it', async () => {
      const good = line(usageRecord({ lease: 'a' })) + line(usageRecord({ lease: 'b' }));
      const torn = line(usageRecord({ lease: 'c' })).slice(0, 57);
      await writeLedgerFile(good + torn);

      const ledger = await openLedger();
      expect(ledger.records().map((record) => record.lease)).toEqual(['a', 'b']);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(new RegExp(`^${escape(file)}:3: ignored a torn last record \\(57 bytes, not JSON`));
      expect(ledger.warnings).toEqual(warnings);
      expect(await readFile(file, 'utf8')).toBe(good);

      // The record whose append was torn is written again by its reconciler.
      expect(await ledger.append(usageRecord({ lease: 'c' }))).toBe(true);
      await ledger.close();
      open.splice(0);
      warnings = [];
      expect((await openLedger()).records().map((record) => record.lease)).toEqual(['a', 'b', 'c']);
      expect(warnings).toEqual([]);
    });

    it('ignores a tail of zeros (a file grown before its data was written)', async () => {
      const good = line(usageRecord({ lease: 'a' }));
      await writeLedgerFile(good + '\0'.repeat(200));
      const ledger = await openLedger();
      expect(ledger.records()).toHaveLength(1);
      expect(warnings[0]).toContain(':2: ignored a torn last record (200 bytes');
      expect(await readFile(file, 'utf8')).toBe(good);
    });

    it('ignores a torn write that is the only line', async () => {
      await writeLedgerFile('{"lease":"a","leaseU');
      const ledger = await openLedger();
      expect(ledger.records()).toEqual([]);
      expect(warnings[0]).toContain(':1: ignored a torn last record');
      expect(await readFile(file, 'utf8')).toBe('');
    });

    it('keeps a whole last record that lost only its newline, and appends on a new line', async () => {
      await writeLedgerFile(line(usageRecord({ lease: 'a' })).trimEnd());
      const ledger = await openLedger();
      expect(ledger.records()).toHaveLength(1);
      expect(warnings).toEqual([]);
      await ledger.append(usageRecord({ lease: 'b' }));
      expect((await lines()).map((text) => (JSON.parse(text) as UsageRecord).lease)).toEqual(['a', 'b']);
    });
  });

  describe('damage', () => {
    it('refuses to open over a damaged line followed by good ones, naming its line number', async () => {
      await writeLedgerFile(
        line(usageRecord({ lease: 'a' })) + '{"lease": "b", oops}\n' + line(usageRecord({ lease: 'c' })),
      );
      const failure = UsageLedger.open(file, { onWarning: (message) => warnings.push(message) });
      await expect(failure).rejects.toBeInstanceOf(LedgerCorruptError);
      await expect(failure).rejects.toThrow(new RegExp(`^${escape(file)}:2: not JSON`));
      // Nothing is cut off: the file is left for a person to repair.
      expect(await lines()).toHaveLength(3);
    });

    it('names the field of a record that is JSON but not a usage record', async () => {
      const bad = JSON.stringify({ ...usageRecord({ lease: 'b' }), runtimeSeconds: 'long' });
      await writeLedgerFile(`${bad}\n${line(usageRecord({ lease: 'c' }))}`);
      await expect(UsageLedger.open(file)).rejects.toThrow(
        `${file}:1: not a usage record: runtimeSeconds: expected a number of at least 0, got "long"`,
      );
    });

    it('skips blank lines, and warns about a lease recorded twice, keeping the first record', async () => {
      await writeLedgerFile(
        line(usageRecord({ lease: 'a', cost: 1 })) + '\n  \n' + line(usageRecord({ lease: 'a', cost: 2 })),
      );
      const ledger = await openLedger();
      expect(ledger.records().map((record) => record.cost)).toEqual([1]);
      expect(warnings).toEqual([
        `${file}:4: lease uid uid-a is recorded twice; the later record is ignored (a lease is billed once)`,
      ]);
    });
  });
});

async function writeLedgerFile(content: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
