import type { Database } from '../../database/database.js';

/** Table names of one demo run: unique per run, so runs against a shared server never collide. */
export interface BankTables {
  readonly accounts: string;
  readonly transfers: string;
}

/** Opening balance of every account. */
export const openingBalance = 1000;

/** Names the tables of one run after `prefix` (letters, digits and underscores only). */
export function bankTables(prefix: string): BankTables {
  if (!/^[a-z_][a-z0-9_]{0,40}$/i.test(prefix)) {
    throw new TypeError(`Expected the table prefix to be a plain identifier, got ${prefix}`);
  }
  return { accounts: `${prefix}_accounts`, transfers: `${prefix}_transfers` };
}

/** Creates the accounts and the transfer ledger, and opens every account with {@link openingBalance}. */
export async function createBank(db: Database, tables: BankTables, accounts: number): Promise<void> {
  await dropBank(db, tables);
  await db.query(`CREATE TABLE ${tables.accounts} (id INTEGER PRIMARY KEY, balance BIGINT NOT NULL)`);
  // The ledger's primary key is the transfer id the worker chose: a transfer applied twice cannot hide.
  await db.query(
    `CREATE TABLE ${tables.transfers} (id VARCHAR(40) PRIMARY KEY, from_id INTEGER NOT NULL, ` +
      'to_id INTEGER NOT NULL, amount BIGINT NOT NULL)',
  );
  await db.acquire(async (connection) => {
    for (let first = 1; first <= accounts; first += 500) {
      const ids = Array.from({ length: Math.min(500, accounts - first + 1) }, (_, i) => first + i);
      const values = Object.fromEntries(ids.map((id) => [`id${id}`, id]));
      const rows = ids.map((id) => `(:id${id}, :balance)`).join(', ');
      await connection.execute(`INSERT INTO ${tables.accounts} (id, balance) VALUES ${rows}`, {
        ...values,
        balance: openingBalance,
      });
    }
  });
}

/** Drops the demo's tables. */
export async function dropBank(db: Database, tables: BankTables): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS ${tables.transfers}`);
  await db.query(`DROP TABLE IF EXISTS ${tables.accounts}`);
}
