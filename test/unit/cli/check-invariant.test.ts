import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BankTables, bankTables, createBank } from '../../../src/cli/demo/bank-schema.js';
import { checkInvariant } from '../../../src/cli/demo/check-invariant.js';
import { formatDemoReport } from '../../../src/cli/demo/demo-report.js';
import { applyTransfer, type Transfer } from '../../../src/cli/demo/transfer.js';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';

const accounts = 5;

// The demo's audit against books broken in each way a bad retry loop breaks them: it must say so.
describe('checkInvariant audits the books', () => {
  let db: Database;
  let tables: BankTables;
  const committed = new Set<string>();

  async function transfer(t: Transfer): Promise<void> {
    await db.transaction((conn) => applyTransfer(conn, tables, 'sqlite', t));
    committed.add(t.id);
  }

  const audit = () => checkInvariant(db, tables, accounts, committed);

  beforeEach(async () => {
    db = await createDatabase({ url: 'sqlite::memory:', maxRetries: 0 });
    tables = bankTables('audit_test');
    committed.clear();
    await createBank(db, tables, accounts);
    await transfer({ id: 't1', from: 1, to: 2, amount: 30 });
    await transfer({ id: 't2', from: 2, to: 3, amount: 50 });
  });
  afterEach(async () => {
    await db.close();
  });

  it('holds for honest books', async () => {
    expect(await audit()).toEqual({
      holds: true,
      expectedTotal: 5000,
      actualTotal: 5000,
      lost: 0,
      unexpected: 0,
      mismatchedAccounts: 0,
    });
  });

  it('a lost transfer (seen committed, not in the books) breaks it', async () => {
    // The worker saw a commit that never reached the database (a retry loop swallowed the failure).
    committed.add('t3');
    const check = await audit();
    expect(check).toMatchObject({ holds: false, lost: 1, unexpected: 0, mismatchedAccounts: 0 });
    expect(formatDemoReport(report(check))).toContain(
      'invariant     BROKEN: total balance 5000 (expected 5000), 1 lost',
    );
  });

  it('a lost transfer whose money moved but whose ledger row vanished breaks it', async () => {
    await db.query(`DELETE FROM ${tables.transfers} WHERE id = 't2'`);
    expect(await audit()).toMatchObject({ holds: false, lost: 1, actualTotal: 5000, mismatchedAccounts: 2 });
  });

  it('a doubled transfer (applied twice, the total still right) breaks it', async () => {
    // The money moved a second time, as when a retry re-runs work whose COMMIT had in fact succeeded.
    await db.acquire(async (conn) => {
      await conn.execute(`UPDATE ${tables.accounts} SET balance = balance - 30 WHERE id = 1`);
      await conn.execute(`UPDATE ${tables.accounts} SET balance = balance + 30 WHERE id = 2`);
    });
    const check = await audit();
    expect(check).toMatchObject({ holds: false, actualTotal: 5000, lost: 0, unexpected: 0 });
    expect(check.mismatchedAccounts).toBe(2);
  });

  it('a phantom ledger row nobody saw commit breaks it', async () => {
    await db.query(`INSERT INTO ${tables.transfers} (id, from_id, to_id, amount) VALUES ('ghost', 4, 5, 0)`);
    expect(await audit()).toMatchObject({ holds: false, unexpected: 1, lost: 0, mismatchedAccounts: 0 });
  });

  it('a balance changed behind its back breaks it', async () => {
    await db.query(`UPDATE ${tables.accounts} SET balance = balance + 7 WHERE id = 4`);
    expect(await audit()).toMatchObject({
      holds: false,
      actualTotal: 5007,
      expectedTotal: 5000,
      mismatchedAccounts: 1,
    });
  });

  it('a missing account breaks it', async () => {
    await db.query(`DELETE FROM ${tables.accounts} WHERE id = 5`);
    expect(await audit()).toMatchObject({ holds: false, actualTotal: 4000, mismatchedAccounts: 1 });
  });
});

function report(
  invariant: Awaited<ReturnType<typeof checkInvariant>>,
): Parameters<typeof formatDemoReport>[0] {
  return {
    backend: 'sqlite',
    target: ':memory:',
    mode: 'retry',
    workers: 1,
    accounts,
    durationS: 1,
    elapsedS: 1,
    committed: 2,
    attempts: 2,
    retriesByKind: {},
    failed: 0,
    failuresByReason: {},
    lockWaits: 0,
    latencyMs: { p50: 1, p99: 1 },
    invariant,
    notes: [],
  };
}
