import { eq, sql } from 'drizzle-orm';
import { int, mysqlTable } from 'drizzle-orm/mysql-core';
import { drizzle as drizzleMysql } from 'drizzle-orm/mysql2';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { integer, pgTable, serial } from 'drizzle-orm/pg-core';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { isDbopError } from '../../../src/core/errors.js';
import {
  type DrizzleTransactionOf,
  retryTransaction,
  step,
} from '../../../src/integrations/drizzle/index.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { describeIfMariadb, describeIfPostgres, mariadbUrl, postgresUrl } from '../../support/servers.js';
import {
  type Admin,
  barrier,
  commitCutter,
  databaseUrl,
  mariadbAdmin,
  postgresAdmin,
  recordingLogger,
  resetAccounts,
} from './orm-support.js';

const pgAccount = pgTable('account', {
  id: integer('id').primaryKey(),
  balance: integer('balance').notNull(),
});
const pgAudit = pgTable('audit', {
  id: serial('id').primaryKey(),
  slow: integer('slow').notNull().default(0),
});
// The MySQL tables, typed as the Postgres ones so one evidence suite serves both: Drizzle's query API is the
// same, and the SQL comes from each database's own dialect.
const mysqlAccount = mysqlTable('account', { id: int('id').primaryKey(), balance: int('balance').notNull() });
const mysqlAudit = mysqlTable('audit', {
  id: int('id').autoincrement().primaryKey(),
  slow: int('slow').notNull().default(0),
});
let account = pgAccount;
let audit = pgAudit;
type Db = NodePgDatabase<Record<string, never>>;
type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

// The handle retryTransaction passes is exactly Drizzle's own (checked both ways, so never `never`).
export const sameHandle: [(tx: Tx) => DrizzleTransactionOf<Db>, (tx: DrizzleTransactionOf<Db>) => Tx] = [
  (tx) => tx,
  (tx) => tx,
];

const add = (tx: Tx, id: number, amount: number) =>
  tx
    .update(account)
    .set({ balance: sql`${account.balance} + ${amount}` })
    .where(eq(account.id, id));

/** What each backend's block sets up for the shared evidence below. */
interface Fixture {
  db: Db;
  admin: Admin;
  logged: string[];
  serverId(trx: Tx): Promise<number>;
  sleepSql: string;
  mysql?: boolean;
  cutCommit?: (mode: 'after-send' | 'before-send') => { readonly fired: () => boolean };
}

async function move(trx: Tx, from: number, to: number, amount: number): Promise<void> {
  await add(trx, from, -amount);
  await add(trx, to, amount);
}

function evidence(fixture: () => Fixture): void {
  let f: Fixture;
  beforeEach(async () => {
    f = fixture();
    account = f.mysql === true ? (mysqlAccount as unknown as typeof pgAccount) : pgAccount;
    audit = f.mysql === true ? (mysqlAudit as unknown as typeof pgAudit) : pgAudit;
    await resetAccounts(f.admin);
    f.logged.length = 0;
  });

  it('a real deadlock: one transfer is redone whole, both applied once', async () => {
    const logger = recordingLogger();
    const runner = new DbOpRunner({ initialDelayMs: 10, maxDelayMs: 50, logger });
    const meet = barrier(2);
    const transfer = (from: number, to: number) =>
      retryTransaction(
        f.db,
        async (trx, attempt) => {
          await add(trx, from, -10);
          if (attempt.attempt === 1) await meet();
          await add(trx, to, 10);
        },
        { runner, name: 'transfer' },
      );
    await Promise.all([transfer(1, 2), transfer(2, 1)]);
    expect(await f.admin.balances()).toEqual({ 1: 100, 2: 100, 3: 100 });
    const deadlock = logger.records.find((r) => r.object.kind === 'deadlock');
    expect(deadlock).toBeDefined();
    // The driver's own message, not DrizzleQueryError's SQL and params.
    expect(String(deadlock?.object.error)).not.toMatch(/update|account|params/i);
  });

  it('a real serialization failure: the later transfer is redone on a fresh snapshot', async () => {
    const logger = recordingLogger();
    const runner = new DbOpRunner({ initialDelayMs: 10, maxDelayMs: 50, logger });
    const meet = barrier(2);
    const transfer = (to: number, amount: number) =>
      retryTransaction(
        f.db,
        async (trx, attempt) => {
          const [row] = await trx.select({ balance: account.balance }).from(account).where(eq(account.id, 1));
          if (attempt.attempt === 1) await meet();
          await trx
            .update(account)
            .set({ balance: row!.balance - amount })
            .where(eq(account.id, 1));
          await add(trx, to, amount);
        },
        { runner, isolationLevel: 'repeatable read' },
      );
    await Promise.all([transfer(2, 10), transfer(3, 5)]);
    expect(await f.admin.balances()).toEqual({ 1: 85, 2: 110, 3: 105 });
    expect(logger.records.some((r) => r.object.kind === 'serialization')).toBe(true);
  });

  it('the backend killed mid-transaction: reconnected through the pool, redone, applied once', async () => {
    let attempts = 0;
    await retryTransaction(
      f.db,
      async (trx) => {
        attempts += 1;
        await add(trx, 1, -10);
        if (attempts === 1) await f.admin.kill(await f.serverId(trx));
        await add(trx, 2, 10);
      },
      { runner: new DbOpRunner({ initialDelayMs: 10 }) },
    );
    expect(attempts).toBe(2);
    expect(await f.admin.balances()).toEqual({ 1: 90, 2: 110, 3: 100 });
  });

  it('the backend killed during COMMIT: verified on another pooled connection, redone, applied once', async () => {
    let attempts = 0;
    let cut: { fired(): boolean } | undefined;
    await retryTransaction(
      f.db,
      async (trx) => {
        attempts += 1;
        await move(trx, 1, 2, 10);
        if (f.cutCommit !== undefined) {
          if (attempts === 1) cut = f.cutCommit('before-send');
          return;
        }
        await trx.insert(audit).values({ slow: attempts === 1 ? 1 : 0 });
        if (attempts === 1) void f.admin.killInCommit(await f.serverId(trx));
      },
      { runner: new DbOpRunner({ initialDelayMs: 10 }) },
    );
    if (cut !== undefined) expect(cut.fired()).toBe(true);
    expect(attempts).toBe(2);
    expect(await f.admin.balances()).toEqual({ 1: 90, 2: 110, 3: 100 });
  });

  it('COMMIT sent and its answer lost (MariaDB): verified, never applied twice', async () => {
    let attempts = 0;
    await retryTransaction(
      f.db,
      async (trx) => {
        attempts += 1;
        await move(trx, 1, 3, 7);
        if (attempts === 1 && f.cutCommit !== undefined) f.cutCommit('after-send');
      },
      { runner: new DbOpRunner({ initialDelayMs: 10 }) },
    );
    expect(await f.admin.balances()).toEqual({ 1: 93, 2: 100, 3: 107 });
  });

  it('an attempt timeout on a slow transaction: cancelled on the server, rolled back, redone once', async () => {
    let attempts = 0;
    await retryTransaction(
      f.db,
      async (trx) => {
        attempts += 1;
        await move(trx, 2, 3, 20);
        // 60 s against a 1.5 s attempt limit: only a cancel on the server ends it in time.
        if (attempts === 1) await trx.execute(sql.raw(f.sleepSql));
      },
      { runner: new DbOpRunner({ initialDelayMs: 10 }), attemptTimeoutMs: 1500 },
    );
    expect(attempts).toBe(2);
    expect(await f.admin.balances()).toEqual({ 1: 100, 2: 80, 3: 120 });
  });

  it('a nested lock timeout is retried in its savepoint; the outer transaction is not redone', async () => {
    const release = await f.admin.holdRow(3);
    let outer = 0;
    const stepAttempts: number[] = [];
    try {
      await retryTransaction(
        f.db,
        async (trx) => {
          outer += 1;
          await move(trx, 1, 2, 5);
          await step(
            trx,
            async (t, attempt) => {
              stepAttempts.push(attempt.attempt);
              if (attempt.attempt === 2) await release();
              await add(t, 3, 1);
            },
            { lockTimeoutMs: 300 },
          );
        },
        { runner: new DbOpRunner({ initialDelayMs: 10 }) },
      );
    } finally {
      await release().catch(() => undefined);
    }
    expect(outer).toBe(1);
    expect(stepAttempts).toEqual([1, 2]);
    expect(await f.admin.balances()).toEqual({ 1: 95, 2: 105, 3: 101 });
  });

  it("a COMMIT sent through the handle is refused, never silently committed; dbop's BEGIN and COMMIT are in Drizzle's logger", async () => {
    for (const statement of ['COMMIT', 'BEGIN', 'ROLLBACK']) {
      const error = await retryTransaction(f.db, async (trx) => {
        await move(trx, 1, 2, 50);
        await trx.execute(sql.raw(statement));
      }).catch((e: unknown) => e);
      expect(isDbopError(error, 'DBOP_TRANSACTION_BOUNDARY')).toBe(true);
    }
    expect(await f.admin.balances()).toEqual({ 1: 100, 2: 100, 3: 100 });
    expect(f.logged.some((s) => /^(BEGIN|START TRANSACTION)/i.test(s))).toBe(true);
    expect(f.logged).toContain('ROLLBACK');
    f.logged.length = 0;
    await retryTransaction(f.db, (trx) => move(trx, 1, 2, 1), { isolationLevel: 'serializable' });
    expect(f.logged.some((s) => /SERIALIZABLE/i.test(s))).toBe(true);
    expect(f.logged).toContain('COMMIT');
    expect(await f.admin.balances()).toEqual({ 1: 99, 2: 101, 3: 100 });
  });
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
  evidence(() => ({
    db,
    admin,
    logged,
    serverId: async (trx) => Number((await trx.execute(sql`SELECT pg_backend_pid() AS id`)).rows[0]!.id),
    sleepSql: 'SELECT pg_sleep(60)',
  }));

  it("a nested Drizzle transaction (its own SAVEPOINT) still works inside dbop's transaction", async () => {
    await resetAccounts(admin);
    await retryTransaction(db, async (tx) => {
      await move(tx, 1, 2, 3);
      await tx
        .transaction(async (inner) => {
          await move(inner, 2, 3, 50);
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
  evidence(() => ({
    db,
    admin,
    logged,
    serverId: async (trx) => {
      const [rows] = (await trx.execute(sql`SELECT CONNECTION_ID() AS id`)) as unknown as [{ id: number }[]];
      return Number(rows[0]!.id);
    },
    sleepSql: 'SELECT SLEEP(60)',
    mysql: true,
    cutCommit,
  }));
});
