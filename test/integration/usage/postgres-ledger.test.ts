import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PostgresLedger } from '../../../src/usage/postgres-ledger.js';
import { startPostgres, type PrivatePostgres } from '../../support/postgres.js';
import { usageRecord } from '../../support/usage-records.js';
import { ledgerCases } from '../../unit/usage/ledger.cases.js';

// The ledger suite every usage ledger passes, on a private PostgreSQL, then what only a
// shared ledger does: two controllers billing the same lease.

let postgres: PrivatePostgres;
let url: string;

beforeAll(async () => {
  postgres = await startPostgres();
});

afterAll(async () => {
  await postgres?.remove();
});

beforeEach(async () => {
  url = await postgres.createDatabase();
});

describe('PostgresLedger', () => {
  ledgerCases({ open: () => PostgresLedger.open(url) });
});

describe('PostgresLedger shared by two controllers', () => {
  it('bills a lease once when both append it, and each sees the record', async () => {
    const [a, b] = [await PostgresLedger.open(url), await PostgresLedger.open(url)];
    try {
      const results = await Promise.all([a.append(usageRecord({ lease: 'x' })), b.append(usageRecord({ lease: 'x' }))]);
      expect(results.sort()).toEqual([false, true]);
      await b.append(usageRecord({ lease: 'y' }));
      const deadline = Date.now() + 5_000;
      while (a.records().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(a.records().map((record) => record.lease)).toEqual(['x', 'y']);
      expect(b.records().map((record) => record.lease)).toEqual(['x', 'y']);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
