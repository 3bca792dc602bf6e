import { eq, sql } from 'drizzle-orm';
import { int, mysqlTable } from 'drizzle-orm/mysql-core';
import { drizzle } from 'drizzle-orm/mysql2';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { retryTransaction } from '../../../src/integrations/drizzle/index.js';
import { describeIfMariadb, mariadbUrl } from '../../support/servers.js';
import { swallowedDeadlock } from './orm-attack-support.js';
import { type Admin, databaseUrl, mariadbAdmin, resetAccounts } from './orm-support.js';

type Tx = Parameters<Parameters<ReturnType<typeof drizzle>['transaction']>[0]>[0];

const account = mysqlTable('account', { id: int('id').primaryKey(), balance: int('balance').notNull() });

describeIfMariadb('dbop/drizzle attacked on MariaDB', () => {
  const database = `dbop_drizzle_attack_${process.pid}`;
  let admin: Admin;
  let db: ReturnType<typeof drizzle>;
  beforeAll(async () => {
    admin = await mariadbAdmin(mariadbUrl(), database);
    // Drizzle's quick start: a URL, from which Drizzle makes a callback mysql2 pool (db.$client).
    db = drizzle(databaseUrl(mariadbUrl(), database));
  });
  afterAll(async () => {
    await new Promise((resolve) => db?.$client.end(resolve));
    await admin?.end();
  });
  beforeEach(() => resetAccounts(admin));

  it('drizzle(url) (a callback mysql2 pool as $client): the transfer runs, once', async () => {
    await retryTransaction(db, async (tx) => {
      await tx
        .update(account)
        .set({ balance: sql`${account.balance} - 10` })
        .where(eq(account.id, 1));
      await tx
        .update(account)
        .set({ balance: sql`${account.balance} + 10` })
        .where(eq(account.id, 2));
    });
    expect(await admin.balances()).toEqual({ 1: 90, 2: 110, 3: 100 });
  });

  for (const after of ['carry on', 'return'] as const) {
    it(`a deadlock the callback catches and then does '${after}' (MariaDB rolled the transaction back): redone whole, never half or none of it committed`, async () => {
      await swallowedDeadlock<Tx>(
        {
          retry: (fn, options) => retryTransaction(db, fn, options),
          raw: (tx, statement) => tx.execute(sql.raw(statement)),
        },
        admin,
        databaseUrl(mariadbUrl(), database),
        after,
      );
    });
  }
});
