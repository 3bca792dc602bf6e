import knexFactory, { type Knex } from 'knex';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { isDbopError } from '../../../src/core/errors.js';
import { retryTransaction, step } from '../../../src/integrations/knex/index.js';
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

/** What each backend's block sets up for the shared evidence below. */
interface Fixture {
  db: Knex;
  admin: Admin;
  logged: string[];
  serverId(trx: Knex.Transaction): Promise<number>;
  sleepSql: string;
  cutCommit?: ReturnType<typeof commitCutter>;
}

async function move(trx: Knex.Transaction, from: number, to: number, amount: number): Promise<void> {
  await trx('account').where({ id: from }).decrement('balance', amount);
  await trx('account').where({ id: to }).increment('balance', amount);
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
          await trx('account').where({ id: from }).decrement('balance', 10);
          if (attempt.attempt === 1) await meet();
          await trx('account').where({ id: to }).increment('balance', 10);
        },
        { runner, name: 'transfer' },
      );
    await Promise.all([transfer(1, 2), transfer(2, 1)]);
    expect(await f.admin.balances()).toEqual({ 1: 100, 2: 100, 3: 100 });
    const deadlock = logger.records.find((r) => r.object.kind === 'deadlock');
    expect(deadlock).toBeDefined();
    // The driver's own message, without the SQL and values Knex puts in front of it.
    expect(String(deadlock?.object.error)).not.toMatch(/update|account/i);
  });

  it('a real serialization failure: the later transfer is redone on a fresh snapshot', async () => {
    const logger = recordingLogger();
    const runner = new DbOpRunner({ initialDelayMs: 10, maxDelayMs: 50, logger });
    const meet = barrier(2);
    const transfer = (to: number, amount: number) =>
      retryTransaction(
        f.db,
        async (trx, attempt) => {
          const row = await trx('account').select('balance').where({ id: 1 }).first();
          if (attempt.attempt === 1) await meet();
          await trx('account')
            .where({ id: 1 })
            .update({ balance: Number(row.balance) - amount });
          await trx('account').where({ id: to }).increment('balance', amount);
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
        await trx('account').where({ id: 1 }).decrement('balance', 10);
        if (attempts === 1) await f.admin.kill(await f.serverId(trx));
        await trx('account').where({ id: 2 }).increment('balance', 10);
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
        await trx('audit').insert({ slow: attempts === 1 ? 1 : 0 });
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
        if (attempts === 1) await trx.raw(f.sleepSql, [60]);
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
              await t('account').where({ id: 3 }).increment('balance', 1);
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

  it("a COMMIT sent through the handle is refused, never silently committed; dbop's BEGIN and COMMIT are in Knex's query event", async () => {
    for (const statement of ['COMMIT', 'BEGIN', 'ROLLBACK']) {
      const error = await retryTransaction(f.db, async (trx) => {
        await move(trx, 1, 2, 50);
        await trx.raw(statement);
      }).catch((e: unknown) => e);
      expect(isDbopError(error, 'DBOP_TRANSACTION_BOUNDARY')).toBe(true);
    }
    // Knex's own nested transaction would send BEGIN/COMMIT-like statements of its own: refused too.
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

describeIfPostgres('dbop/knex on PostgreSQL (pg)', () => {
  const schema = `dbop_knex_${process.pid}`;
  const logged: string[] = [];
  let db: Knex;
  let admin: Admin;
  beforeAll(async () => {
    admin = await postgresAdmin(postgresUrl(), schema);
    db = knexFactory({
      client: 'pg',
      connection: { connectionString: postgresUrl(), options: `-c search_path=${schema}` },
      pool: { min: 0, max: 4 },
    });
    db.on('query', (q: { sql: string }) => logged.push(q.sql));
  });
  afterAll(async () => {
    await db?.destroy();
    await admin?.end();
  });
  evidence(() => ({
    db,
    admin,
    logged,
    serverId: async (trx) => Number((await trx.raw('SELECT pg_backend_pid() AS id')).rows[0].id),
    sleepSql: 'SELECT pg_sleep(?)',
  }));
});

describeIfMariadb('dbop/knex on MariaDB (mysql2)', () => {
  const database = `dbop_knex_${process.pid}`;
  const logged: string[] = [];
  let db: Knex;
  let admin: Admin;
  let cutCommit: ReturnType<typeof commitCutter>;
  let watch: (connection: unknown) => void = () => undefined;
  beforeAll(async () => {
    admin = await mariadbAdmin(mariadbUrl(), database);
    cutCommit = commitCutter({ on: (_event, listener) => (watch = listener) }, admin);
    db = knexFactory({
      client: 'mysql2',
      connection: databaseUrl(mariadbUrl(), database),
      pool: {
        min: 0,
        max: 4,
        // MariaDB reports a write to a row changed since the snapshot (1020) only with this on.
        afterCreate: (
          connection: { query(sql: string, cb: (error: unknown) => void): void },
          done: (error: unknown, c: unknown) => void,
        ) => {
          watch(connection);
          connection.query('SET SESSION innodb_snapshot_isolation = ON', (error) => done(error, connection));
        },
      },
    });
    db.on('query', (q: { sql: string }) => logged.push(q.sql));
  });
  afterAll(async () => {
    await db?.destroy();
    await admin?.end();
  });
  evidence(() => ({
    db,
    admin,
    logged,
    serverId: async (trx) => Number((await trx.raw('SELECT CONNECTION_ID() AS id'))[0][0].id),
    sleepSql: 'SELECT SLEEP(?)',
    cutCommit,
  }));
});
