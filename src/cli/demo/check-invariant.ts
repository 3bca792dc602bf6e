import type { Database } from '../../database/database.js';
import { type BankTables, openingBalance } from './bank-schema.js';
import type { InvariantCheck } from './demo-report.js';

/**
 * Audits the books: the total balance is what the bank opened with, every transfer a worker saw commit is
 * in the ledger exactly once and nothing else is, and every balance equals its opening balance plus the
 * ledger's movements.
 */
export async function checkInvariant(
  db: Database,
  tables: BankTables,
  accounts: number,
  committed: ReadonlySet<string>,
): Promise<InvariantCheck> {
  const balances = await db.query<{ id: unknown; balance: unknown }>(
    `SELECT id, balance FROM ${tables.accounts}`,
  );
  const ledger = await db.query<{ id: unknown; from_id: unknown; to_id: unknown; amount: unknown }>(
    `SELECT id, from_id, to_id, amount FROM ${tables.transfers}`,
  );
  const expected = new Map<number, number>();
  for (let id = 1; id <= accounts; id += 1) expected.set(id, openingBalance);
  let unexpected = 0;
  const seen = new Set<string>();
  for (const row of ledger.rows) {
    const id = String(row.id);
    seen.add(id);
    if (!committed.has(id)) unexpected += 1;
    const amount = Number(row.amount);
    expected.set(Number(row.from_id), (expected.get(Number(row.from_id)) ?? 0) - amount);
    expected.set(Number(row.to_id), (expected.get(Number(row.to_id)) ?? 0) + amount);
  }
  let lost = 0;
  for (const id of committed) if (!seen.has(id)) lost += 1;
  let actualTotal = 0;
  let mismatchedAccounts = 0;
  for (const row of balances.rows) {
    const balance = Number(row.balance);
    actualTotal += balance;
    if (expected.get(Number(row.id)) !== balance) mismatchedAccounts += 1;
  }
  mismatchedAccounts += Math.max(0, accounts - balances.rows.length);
  const expectedTotal = accounts * openingBalance;
  return {
    holds: actualTotal === expectedTotal && lost === 0 && unexpected === 0 && mismatchedAccounts === 0,
    expectedTotal,
    actualTotal,
    lost,
    unexpected,
    mismatchedAccounts,
  };
}
