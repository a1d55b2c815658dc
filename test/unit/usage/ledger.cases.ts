import { afterEach, expect, it } from 'vitest';
import type { Ledger, UsageRecord } from '../../../src/usage/ledger.js';
import { usageRecord } from '../../support/usage-records.js';

// What every usage ledger does, run by test/unit/usage/ledger.test.ts (the file) and
// test/integration/usage/postgres-ledger.test.ts (PostgreSQL).

export interface LedgerHarness {
  /** Opens the ledger on the current test's state; a second call opens the same state again. */
  open(): Promise<Ledger>;
}

export function ledgerCases(harness: LedgerHarness): void {
  const opened: Ledger[] = [];
  const openLedger = async (): Promise<Ledger> => {
    const ledger = await harness.open();
    opened.push(ledger);
    return ledger;
  };
  afterEach(async () => {
    for (const ledger of opened.splice(0)) await ledger.close();
  });

  it('reads back what it appended after a restart, in order', async () => {
    const ledger = await openLedger();
    expect(await ledger.append(usageRecord({ lease: 'a' }))).toBe(true);
    expect(await ledger.append(usageRecord({ lease: 'b', reason: 'Released', fromPool: true }))).toBe(true);
    expect(ledger.has('uid-a')).toBe(true);
    expect(ledger.has('uid-c')).toBe(false);
    await ledger.close();
    const reopened = await openLedger();
    expect(reopened.records()).toEqual([
      usageRecord({ lease: 'a' }),
      usageRecord({ lease: 'b', reason: 'Released', fromPool: true }),
    ]);
  });

  it('bills a lease once: a second record for its uid is refused, even after a restart', async () => {
    const ledger = await openLedger();
    expect(await ledger.append(usageRecord({ lease: 'a' }))).toBe(true);
    expect(await ledger.append(usageRecord({ lease: 'a', cost: 99 }))).toBe(false);
    await ledger.close();
    const reopened = await openLedger();
    expect(await reopened.append(usageRecord({ lease: 'a', cost: 99 }))).toBe(false);
    expect(reopened.records()).toHaveLength(1);
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
    expect(ledger.records().map((record) => record.lease)).toEqual(['a', 'b']);
  });

  it('keeps only the fields of a record, in a fixed order, and hands out records nobody can change', async () => {
    const ledger = await openLedger();
    await ledger.append({ ...usageRecord({ lease: 'a' }), extra: 'dropped' } as UsageRecord);
    await ledger.close();
    const [record] = (await openLedger()).records();
    expect(Object.keys(record ?? {})).toEqual(Object.keys(usageRecord()));
    expect(Object.isFrozen(record)).toBe(true);
  });

  it.each([
    [{ leaseUid: '' }, 'leaseUid: expected a non-empty string'],
    [{ cost: -1 }, 'cost: expected a number of at least 0, got -1'],
    [{ reason: 'Deleted' }, 'reason: expected one of Expired, Released, Failed, IdleTimeout, got "Deleted"'],
  ])('refuses to append %j, writing nothing', async (overrides, message) => {
    const ledger = await openLedger();
    await expect(ledger.append(usageRecord(overrides as Partial<UsageRecord>))).rejects.toThrow(message);
    expect(ledger.records()).toEqual([]);
  });

  it('refuses appends once closed', async () => {
    const ledger = await openLedger();
    await ledger.close();
    await expect(ledger.append(usageRecord())).rejects.toThrow('is closed');
  });
}
