import { DataSource, type EntityManager, EntitySchema } from 'typeorm';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { isDbopError } from '../../../src/core/errors.js';
import { retryTransaction, step } from '../../../src/integrations/typeorm/index.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { describeIfPostgres, postgresUrl } from '../../support/servers.js';
import { type Admin, barrier, postgresAdmin, recordingLogger, resetAccounts } from './orm-support.js';

interface Account {
  id: number;
  balance: number;
}
interface Audit {
  id: number;
  slow: number;
}
const AccountEntity = new EntitySchema<Account>({
  name: 'Account',
  tableName: 'account',
  columns: { id: { type: Number, primary: true }, balance: { type: Number } },
});
const AuditEntity = new EntitySchema<Audit>({
  name: 'Audit',
  tableName: 'audit',
  columns: { id: { type: Number, primary: true, generated: true }, slow: { type: Number } },
});
type Tx = EntityManager;

/** What each backend's block sets up for the shared evidence below. */
interface Fixture {
  db: DataSource;
  admin: Admin;
  logged: string[];
  serverId(trx: Tx): Promise<number>;
  sleepSql: string;
  cutCommit?: (mode: 'after-send' | 'before-send') => { readonly fired: () => boolean };
}

async function move(trx: Tx, from: number, to: number, amount: number): Promise<void> {
  await trx.decrement(AccountEntity, { id: from }, 'balance', amount);
  await trx.increment(AccountEntity, { id: to }, 'balance', amount);
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
          await trx.decrement(AccountEntity, { id: from }, 'balance', 10);
          if (attempt.attempt === 1) await meet();
          await trx.increment(AccountEntity, { id: to }, 'balance', 10);
        },
        { runner, name: 'transfer' },
      );
    await Promise.all([transfer(1, 2), transfer(2, 1)]);
    expect(await f.admin.balances()).toEqual({ 1: 100, 2: 100, 3: 100 });
    const deadlock = logger.records.find((r) => r.object.kind === 'deadlock');
    expect(deadlock).toBeDefined();
    // The driver's own message (innermost: QueryFailedError's driverError).
    expect(String(deadlock?.object.error)).not.toMatch(/update|account|QueryFailedError/i);
  });

  it('a real serialization failure: the later transfer is redone on a fresh snapshot', async () => {
    const logger = recordingLogger();
    const runner = new DbOpRunner({ initialDelayMs: 10, maxDelayMs: 50, logger });
    const meet = barrier(2);
    const transfer = (to: number, amount: number) =>
      retryTransaction(
        f.db,
        async (trx, attempt) => {
          const row = await trx.findOneByOrFail(AccountEntity, { id: 1 });
          if (attempt.attempt === 1) await meet();
          await trx.update(AccountEntity, { id: 1 }, { balance: row.balance - amount });
          await trx.increment(AccountEntity, { id: to }, 'balance', amount);
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
        await trx.decrement(AccountEntity, { id: 1 }, 'balance', 10);
        if (attempts === 1) await f.admin.kill(await f.serverId(trx));
        await trx.increment(AccountEntity, { id: 2 }, 'balance', 10);
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
        // save() inside dbop's transaction opens none of its own (it would have committed dbop's).
        await trx.save(AuditEntity, { slow: attempts === 1 ? 1 : 0 });
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
        if (attempts === 1) await trx.query(f.sleepSql, [60]);
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
              await t.increment(AccountEntity, { id: 3 }, 'balance', 1);
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

  it("a COMMIT sent through the handle is refused, never silently committed; dbop's BEGIN and COMMIT are in TypeORM's logger", async () => {
    for (const statement of ['COMMIT', 'BEGIN', 'ROLLBACK']) {
      const error = await retryTransaction(f.db, async (trx) => {
        await move(trx, 1, 2, 50);
        await trx.query(statement);
      }).catch((e: unknown) => e);
      expect(isDbopError(error, 'DBOP_TRANSACTION_BOUNDARY')).toBe(true);
    }
    // TypeORM's own transaction API on the same runner is refused too.
    const nested = await retryTransaction(f.db, (trx) =>
      trx.transaction((inner) => move(inner, 1, 2, 1)),
    ).catch((e: unknown) => e);
    expect(isDbopError(nested, 'DBOP_TRANSACTION_BOUNDARY')).toBe(true);
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

describeIfPostgres('dbop/typeorm on PostgreSQL (DataSource, driver postgres)', () => {
  const schema = `dbop_typeorm_${process.pid}`;
  const logged: string[] = [];
  let db: DataSource;
  let admin: Admin;
  beforeAll(async () => {
    admin = await postgresAdmin(postgresUrl(), schema);
    db = new DataSource({
      type: 'postgres',
      url: postgresUrl(),
      schema,
      entities: [AccountEntity, AuditEntity],
      extra: { max: 4, options: `-c search_path=${schema}` },
      logger: {
        logQuery: (query: string) => void logged.push(query),
        logQueryError: () => undefined,
        logQuerySlow: () => undefined,
        logSchemaBuild: () => undefined,
        logMigration: () => undefined,
        log: () => undefined,
      },
    });
    await db.initialize();
  });
  afterAll(async () => {
    await db?.destroy();
    await admin?.end();
  });
  evidence(() => ({
    db,
    admin,
    logged,
    serverId: async (trx) => Number((await trx.query('SELECT pg_backend_pid() AS id'))[0].id),
    sleepSql: 'SELECT pg_sleep($1)',
  }));
});
