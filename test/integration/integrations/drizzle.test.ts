import Database from 'better-sqlite3';
import { eq, sql } from 'drizzle-orm';
import { type BetterSQLite3Database, drizzle as drizzleSqlite } from 'drizzle-orm/better-sqlite3';
import { int, mysqlTable } from 'drizzle-orm/mysql-core';
import { drizzle as drizzleMysql } from 'drizzle-orm/mysql2';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { integer, pgTable, serial } from 'drizzle-orm/pg-core';
import { integer as sqliteInteger, sqliteTable } from 'drizzle-orm/sqlite-core';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  type DrizzleTransactionOf,
  retryTransaction,
  step,
} from '../../../src/integrations/drizzle/index.js';
import { describeIfMariadb, describeIfPostgres, mariadbUrl, postgresUrl } from '../../support/servers.js';
import { nestedOnOneConnection } from './orm-attack-support.js';
import { type OrmUnderTest, ormEvidence, ormSqliteEvidence } from './orm-evidence.js';
import {
  type Admin,
  commitCutter,
  databaseUrl,
  mariadbAdmin,
  postgresAdmin,
  resetAccounts,
  type SqliteBank,
  sqliteBank,
} from './orm-support.js';

const pgAccount = pgTable('account', {
  id: integer('id').primaryKey(),
  balance: integer('balance').notNull(),
});
const pgAudit = pgTable('audit', {
  id: serial('id').primaryKey(),
  slow: integer('slow').notNull().default(0),
});
// The MySQL tables, typed as the Postgres ones so one suite serves both: Drizzle's query API is the same,
// and the SQL comes from each database's own dialect.
const mysqlAccount = mysqlTable('account', { id: int('id').primaryKey(), balance: int('balance').notNull() });
const mysqlAudit = mysqlTable('audit', {
  id: int('id').autoincrement().primaryKey(),
  slow: int('slow').notNull().default(0),
});
type Db = NodePgDatabase<Record<string, never>>;
type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** The transfer's statements with Drizzle's query builder, on the handle retryTransaction passes. */
function drizzleOrm(
  db: Db,
  admin: Admin,
  logged: string[],
  backend: { mysql: boolean; serverId: (tx: Tx) => Promise<number>; sleep: string },
): Omit<OrmUnderTest<Tx>, 'cutCommit'> {
  const account = backend.mysql ? (mysqlAccount as unknown as typeof pgAccount) : pgAccount;
  const audit = backend.mysql ? (mysqlAudit as unknown as typeof pgAudit) : pgAudit;
  return {
    admin,
    logged,
    retry: (fn, options) => retryTransaction(db, fn, options),
    step: (tx, fn, options) => step(tx, fn, options),
    add: (tx, id, amount) =>
      tx
        .update(account)
        .set({ balance: sql`${account.balance} + ${amount}` })
        .where(eq(account.id, id)),
    balance: async (tx, id) =>
      (await tx.select({ balance: account.balance }).from(account).where(eq(account.id, id)))[0]!.balance,
    setBalance: (tx, id, value) => tx.update(account).set({ balance: value }).where(eq(account.id, id)),
    audit: (tx, slow) => tx.insert(audit).values({ slow }),
    serverId: backend.serverId,
    sleep: (tx) => tx.execute(sql.raw(backend.sleep)),
    raw: (tx, statement) => tx.execute(sql.raw(statement)),
  };
}

describeIfPostgres('dbop/drizzle on PostgreSQL (node-postgres pool)', () => {
  const schema = `dbop_drizzle_${process.pid}`;
  const logged: string[] = [];
  let pool: pg.Pool;
  let db: Db;
  let admin: Admin;
  beforeAll(async () => {
    admin = await postgresAdmin(postgresUrl(), schema);
    pool = new pg.Pool({ connectionString: postgresUrl(), max: 4, options: `-c search_path=${schema}` });
    pool.on('error', () => undefined);
    db = drizzle({ client: pool, logger: { logQuery: (query) => void logged.push(query) } });
  });
  afterAll(async () => {
    await pool?.end();
    await admin?.end();
  });
  ormEvidence(() =>
    drizzleOrm(db, admin, logged, {
      mysql: false,
      serverId: async (tx) => Number((await tx.execute(sql`SELECT pg_backend_pid() AS id`)).rows[0]!.id),
      sleep: 'SELECT pg_sleep(60)',
    }),
  );

  it("a nested Drizzle transaction (its own SAVEPOINT) still works inside dbop's transaction", async () => {
    await resetAccounts(admin);
    const orm = drizzleOrm(db, admin, logged, { mysql: false, serverId: async () => 0, sleep: '' });
    await retryTransaction(db, async (tx) => {
      await orm.add(tx, 1, -3);
      await orm.add(tx, 2, 3);
      await tx
        .transaction(async (inner) => {
          await orm.add(inner, 3, 50);
          throw new Error('undo the inner one');
        })
        .catch(() => undefined);
    });
    expect(await admin.balances()).toEqual({ 1: 97, 2: 103, 3: 100 });
  });
});

describeIfMariadb('dbop/drizzle on MariaDB (mysql2 pool)', () => {
  const database = `dbop_drizzle_${process.pid}`;
  const logged: string[] = [];
  let pool: mysql.Pool;
  let db: Db;
  let admin: Admin;
  let cutCommit: ReturnType<typeof commitCutter>;
  beforeAll(async () => {
    admin = await mariadbAdmin(mariadbUrl(), database);
    pool = mysql.createPool({ uri: databaseUrl(mariadbUrl(), database), connectionLimit: 4 });
    // The promise pool wraps a callback pool, whose connections are the ones that send COMMIT.
    const core = (pool as unknown as { pool: Parameters<typeof commitCutter>[0] }).pool;
    cutCommit = commitCutter(core, admin);
    // MariaDB reports a write to a row changed since the snapshot (1020) only with this on.
    core.on('connection', (c) => {
      (c as { query(sql: string): void }).query('SET SESSION innodb_snapshot_isolation = ON');
    });
    const mysqlDb = drizzleMysql({
      client: pool,
      mode: 'default',
      logger: { logQuery: (query) => void logged.push(query) },
    });
    db = mysqlDb as unknown as Db;
  });
  afterAll(async () => {
    await pool?.end();
    await admin?.end();
  });
  ormEvidence(() => ({
    ...drizzleOrm(db, admin, logged, {
      mysql: true,
      serverId: async (tx) => {
        const [rows] = (await tx.execute(sql`SELECT CONNECTION_ID() AS id`)) as unknown as [{ id: number }[]];
        return Number(rows[0]!.id);
      },
      sleep: 'SELECT SLEEP(60)',
    }),
    cutCommit,
  }));
});

const sqliteAccount = sqliteTable('account', {
  id: sqliteInteger('id').primaryKey(),
  balance: sqliteInteger('balance').notNull(),
});
type SqliteTx = Parameters<Parameters<BetterSQLite3Database['transaction']>[0]>[0];

describe('dbop/drizzle on SQLite (better-sqlite3)', () => {
  const logged: string[] = [];
  let bank: SqliteBank;
  let client: Database.Database;
  let db: BetterSQLite3Database;
  beforeAll(() => {
    bank = sqliteBank('dbop-drizzle-');
    client = new Database(bank.file, { timeout: 100 });
    db = drizzleSqlite({ client, logger: { logQuery: (query) => void logged.push(query) } });
  });
  afterAll(() => {
    client?.close();
    bank?.close();
  });
  it("the handle retryTransaction passes is typed as Drizzle's own (node-postgres, better-sqlite3)", () => {
    expectTypeOf<DrizzleTransactionOf<Db>>().toEqualTypeOf<Tx>();
    expectTypeOf<DrizzleTransactionOf<BetterSQLite3Database>>().toEqualTypeOf<SqliteTx>();
  });
  ormSqliteEvidence<SqliteTx>(() => ({
    bank,
    logged,
    // Drizzle's own transaction() on better-sqlite3 takes only a synchronous callback; dbop's takes async.
    retry: (fn, options) => retryTransaction(db, fn, options),
    step: (tx, fn, options) => step(tx, fn, options),
    add: (tx, id, amount) =>
      tx
        .update(sqliteAccount)
        .set({ balance: sql`${sqliteAccount.balance} + ${amount}` })
        .where(eq(sqliteAccount.id, id)),
    addOutside: async (id, amount) =>
      db
        .update(sqliteAccount)
        .set({ balance: sql`${sqliteAccount.balance} + ${amount}` })
        .where(eq(sqliteAccount.id, id)),
    preparedOutside: async (id, amount) => {
      const prepared = db
        .update(sqliteAccount)
        .set({ balance: sql`${sqliteAccount.balance} + ${amount}` })
        .where(eq(sqliteAccount.id, id))
        .prepare();
      prepared.run();
      return async () => prepared.run();
    },
    raw: async (tx, statement) => tx.run(sql.raw(statement)),
    connection: async () => client,
    busyTimeout: async () =>
      Number(db.get<{ timeout: number }>(sql`SELECT timeout FROM pragma_busy_timeout`).timeout),
  }));

  it('a retryTransaction nested in another on the one connection is refused, not left waiting for itself', async () => {
    await nestedOnOneConnection({ retry: (fn, options) => retryTransaction(db, fn, options) });
  });

  it("a statement prepared in one of dbop's transactions, kept and run in a later one's time from outside, is refused", async () => {
    bank.reset();
    let kept: { run(): unknown } | undefined;
    await retryTransaction(db, async (tx) => {
      kept = tx
        .update(sqliteAccount)
        .set({ balance: sql`${sqliteAccount.balance} + 1` })
        .where(eq(sqliteAccount.id, 3))
        .prepare();
    });
    let outside: unknown = 'not run';
    const error = await retryTransaction(db, async (tx) => {
      await tx
        .update(sqliteAccount)
        .set({ balance: sql`${sqliteAccount.balance} - 10` })
        .where(eq(sqliteAccount.id, 1));
      try {
        kept?.run();
        outside = 'done';
      } catch (e) {
        outside = e;
      }
      throw new Error('business rule');
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('business rule');
    // Run, it would have joined the second transaction and gone with its rollback.
    expect((outside as { code?: string }).code).toBe('DBOP_TRANSACTION_BOUNDARY');
    expect(bank.balances()).toEqual({ 1: 100, 2: 100, 3: 100 });
  });

  it("the driver's own exec() outside the transaction is refused while dbop holds the connection, and works after", async () => {
    bank.reset();
    let refused: unknown;
    await retryTransaction(db, async (tx) => {
      await tx
        .update(sqliteAccount)
        .set({ balance: sql`${sqliteAccount.balance} - 10` })
        .where(eq(sqliteAccount.id, 1));
      try {
        client.exec('UPDATE account SET balance = balance + 1 WHERE id = 3');
      } catch (error) {
        refused = error;
      }
    });
    expect((refused as { code?: string }).code).toBe('DBOP_TRANSACTION_BOUNDARY');
    client.exec('UPDATE account SET balance = balance + 1 WHERE id = 3');
    expect(bank.balances()).toEqual({ 1: 90, 2: 100, 3: 101 });
  });
});
