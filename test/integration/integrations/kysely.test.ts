import {
  CompiledQuery,
  type Generated,
  Kysely,
  MysqlDialect,
  PostgresDialect,
  sql,
  type Transaction,
} from 'kysely';
import { createPool as createMysqlPool, type Pool as MysqlPool } from 'mysql2';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { isDbopError } from '../../../src/core/errors.js';
import { retryTransaction, step } from '../../../src/integrations/kysely/index.js';
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

interface DB {
  account: { id: number; balance: number };
  audit: { id: Generated<number>; slow: number };
}

/** What each backend's block sets up for the shared evidence below. */
interface Fixture {
  db: Kysely<DB>;
  admin: Admin;
  logged: string[];
  serverId(trx: Transaction<DB>): Promise<number>;
  sleepSql(seconds: number): ReturnType<typeof sql>;
  idleConnections(): { idle: number; total: number };
  cutCommit?: ReturnType<typeof commitCutter>;
}

async function move(trx: Transaction<DB>, from: number, to: number, amount: number): Promise<void> {
  await trx
    .updateTable('account')
    .set({ balance: sql`balance - ${amount}` })
    .where('id', '=', from)
    .execute();
  await trx
    .updateTable('account')
    .set({ balance: sql`balance + ${amount}` })
    .where('id', '=', to)
    .execute();
}

function evidence(fixture: () => Fixture): void {
  let f: Fixture;
  beforeEach(async () => {
    f = fixture();
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
          await trx
            .updateTable('account')
            .set({ balance: sql`balance - 10` })
            .where('id', '=', from)
            .execute();
          if (attempt.attempt === 1) await meet();
          await trx.updateTable('account').set({ balance: sql`balance + 10` }).where('id', '=', to).execute();
        },
        { runner, name: 'transfer' },
      );
    await Promise.all([transfer(1, 2), transfer(2, 1)]);
    expect(await f.admin.balances()).toEqual({ 1: 100, 2: 100, 3: 100 });
    expect(logger.records.some((r) => r.object.kind === 'deadlock')).toBe(true);
  });

  it('a real serialization failure: the later transfer is redone on a fresh snapshot', async () => {
    const logger = recordingLogger();
    const runner = new DbOpRunner({ initialDelayMs: 10, maxDelayMs: 50, logger });
    const meet = barrier(2);
    const transfer = (to: number, amount: number) =>
      retryTransaction(
        f.db,
        async (trx, attempt) => {
          const { balance } = await trx
            .selectFrom('account')
            .select('balance')
            .where('id', '=', 1)
            .executeTakeFirstOrThrow();
          if (attempt.attempt === 1) await meet();
          await trx
            .updateTable('account')
            .set({ balance: balance - amount })
            .where('id', '=', 1)
            .execute();
          await trx
            .updateTable('account')
            .set({ balance: sql`balance + ${amount}` })
            .where('id', '=', to)
            .execute();
        },
        { runner, isolationLevel: 'repeatable read' },
      );
    await Promise.all([transfer(2, 10), transfer(3, 5)]);
    // A lost update would leave account 1 at 90 or 95.
    expect(await f.admin.balances()).toEqual({ 1: 85, 2: 110, 3: 105 });
    expect(logger.records.some((r) => r.object.kind === 'serialization')).toBe(true);
  });

  it('the backend killed mid-transaction: reconnected through the pool, redone, applied once', async () => {
    let attempts = 0;
    await retryTransaction(
      f.db,
      async (trx) => {
        attempts += 1;
        await trx.updateTable('account').set({ balance: sql`balance - 10` }).where('id', '=', 1).execute();
        if (attempts === 1) await f.admin.kill(await f.serverId(trx));
        await trx.updateTable('account').set({ balance: sql`balance + 10` }).where('id', '=', 2).execute();
      },
      { runner: new DbOpRunner({ initialDelayMs: 10 }) },
    );
    expect(attempts).toBe(2);
    expect(await f.admin.balances()).toEqual({ 1: 90, 2: 110, 3: 100 });
    const { idle, total } = f.idleConnections();
    expect(idle).toBe(total);
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
        await trx
          .insertInto('audit')
          .values({ slow: attempts === 1 ? 1 : 0 })
          .execute();
        if (attempts === 1) void f.admin.killInCommit(await f.serverId(trx));
      },
      { runner: new DbOpRunner({ initialDelayMs: 10 }) },
    );
    if (cut !== undefined) expect(cut.fired()).toBe(true);
    expect(attempts).toBe(2);
    expect(await f.admin.balances()).toEqual({ 1: 90, 2: 110, 3: 100 });
  });

  it('COMMIT sent and its answer lost (MariaDB) or the kill after it landed: never applied twice', async () => {
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
        if (attempts === 1) await f.sleepSql(60).execute(trx);
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
              await t.updateTable('account').set({ balance: sql`balance + 1` }).where('id', '=', 3).execute();
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

  it("a COMMIT sent through the handle is refused, never silently committed; dbop's BEGIN and COMMIT are in Kysely's log", async () => {
    const error = await retryTransaction(f.db, async (trx) => {
      await move(trx, 1, 2, 50);
      await sql`/* by hand */ COMMIT`.execute(trx);
    }).catch((e: unknown) => e);
    expect(isDbopError(error, 'DBOP_TRANSACTION_BOUNDARY')).toBe(true);
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

describeIfPostgres('dbop/kysely on PostgreSQL (pg pool through PostgresDialect)', () => {
  const schema = `dbop_kysely_${process.pid}`;
  const logged: string[] = [];
  let pool: pg.Pool;
  let db: Kysely<DB>;
  let admin: Admin;
  beforeAll(async () => {
    admin = await postgresAdmin(postgresUrl(), schema);
    pool = new pg.Pool({ connectionString: postgresUrl(), max: 4, options: `-c search_path=${schema}` });
    pool.on('error', () => undefined);
    // node-postgres leaves a checked-out client's 'error' unhandled (a killed backend would crash the
    // process); Kysely never shows dbop the client, so the pool's owner listens, as pg's docs advise.
    pool.on('connect', (client) => client.on('error', () => undefined));
    db = new Kysely<DB>({
      dialect: new PostgresDialect({ pool }),
      log: (event) => {
        logged.push(event.query.sql);
      },
    });
  });
  afterAll(async () => {
    await db?.destroy();
    await admin?.end();
  });
  evidence(() => ({
    db,
    admin,
    logged,
    serverId: async (trx) =>
      (await sql<{ id: number }>`SELECT pg_backend_pid() AS id`.execute(trx)).rows[0]!.id,
    sleepSql: (seconds) => sql`SELECT pg_sleep(${seconds})`,
    idleConnections: () => ({ idle: pool.idleCount, total: pool.totalCount }),
  }));
});

describeIfMariadb('dbop/kysely on MariaDB (mysql2 pool through MysqlDialect)', () => {
  const database = `dbop_kysely_${process.pid}`;
  const logged: string[] = [];
  let pool: MysqlPool;
  let db: Kysely<DB>;
  let admin: Admin;
  let cutCommit: ReturnType<typeof commitCutter>;
  beforeAll(async () => {
    admin = await mariadbAdmin(mariadbUrl(), database);
    pool = createMysqlPool({ uri: databaseUrl(mariadbUrl(), database), connectionLimit: 4 });
    cutCommit = commitCutter(pool, admin);
    db = new Kysely<DB>({
      dialect: new MysqlDialect({
        pool,
        // MariaDB reports a write to a row changed since the snapshot (1020) only with this on.
        onCreateConnection: async (c) => {
          await c.executeQuery(CompiledQuery.raw('SET SESSION innodb_snapshot_isolation = ON'));
        },
      }),
      log: (event) => {
        logged.push(event.query.sql);
      },
    });
  });
  afterAll(async () => {
    await db?.destroy();
    await admin?.end();
  });
  evidence(() => ({
    db,
    admin,
    logged,
    serverId: async (trx) =>
      Number((await sql<{ id: number }>`SELECT CONNECTION_ID() AS id`.execute(trx)).rows[0]!.id),
    sleepSql: (seconds) => sql`SELECT SLEEP(${seconds})`,
    idleConnections: () => {
      const internals = pool as unknown as {
        _allConnections: { length: number };
        _freeConnections: { length: number };
      };
      return { idle: internals._freeConnections.length, total: internals._allConnections.length };
    },
    cutCommit,
  }));
});
