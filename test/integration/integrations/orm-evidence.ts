import { beforeEach, expect, it } from 'vitest';
import type { AttemptContext } from '../../../src/core/attempt.js';
import { isDbopError } from '../../../src/core/errors.js';
import type { OrmTransactionOptions } from '../../../src/integrations/shared/orm-transaction-options.js';
import { DbOpRunner, type RunOptions } from '../../../src/runner/index.js';
import {
  type Admin,
  barrier,
  recordingLogger,
  resetAccounts,
  type SqliteBank,
  sleep,
} from './orm-support.js';

/** One ORM's side of the evidence: its retryTransaction and step, and the few statements the transfer needs. */
export interface OrmUnderTest<H> {
  readonly admin: Admin;
  /** Every statement the ORM's own query log saw. */
  readonly logged: string[];
  retry<T>(
    fn: (handle: H, attempt: AttemptContext) => Promise<T>,
    options?: OrmTransactionOptions,
  ): Promise<T>;
  step<T>(
    handle: H,
    fn: (handle: H, attempt: AttemptContext) => Promise<T>,
    options?: RunOptions<never>,
  ): Promise<T>;
  /** Adds amount to account id's balance (negative: takes it), through the ORM's query API. */
  add(handle: H, id: number, amount: number): Promise<unknown>;
  balance(handle: H, id: number): Promise<number>;
  setBalance(handle: H, id: number, value: number): Promise<unknown>;
  /** Inserts an audit row; slow = 1 makes the Postgres COMMIT sleep (the deferred trigger). */
  audit(handle: H, slow: number): Promise<unknown>;
  serverId(handle: H): Promise<number>;
  /** A 60 s server-side sleep. */
  sleep(handle: H): Promise<unknown>;
  /** Sends one statement as raw SQL through the handle. */
  raw(handle: H, statement: string): Promise<unknown>;
  /** Idle and total connections of the ORM's pool, where it shows them: after a kill, none is left checked out. */
  readonly pooled?: () => { readonly idle: number; readonly total: number };
  /** MariaDB: arms the next COMMIT to be lost (Postgres kills the backend inside COMMIT instead). */
  readonly cutCommit?: (mode: 'after-send' | 'before-send') => { readonly fired: () => boolean };
}

/**
 * The integrations' evidence (issue 13): a real deadlock, a real serialization failure, the backend
 * killed mid-transaction and during COMMIT, an attempt timeout on a slow transaction, a nested lock
 * timeout, and the boundary guard; the final balances exact each time.
 */
export function ormEvidence<H>(under: () => OrmUnderTest<H>): void {
  let o: OrmUnderTest<H>;
  const move = async (h: H, from: number, to: number, amount: number) => {
    await o.add(h, from, -amount);
    await o.add(h, to, amount);
  };
  beforeEach(async () => {
    o = under();
    await resetAccounts(o.admin);
    o.logged.length = 0;
  });

  it('a real deadlock: one transfer is redone whole, both applied once; the log line is the driver message', async () => {
    const logger = recordingLogger();
    const runner = new DbOpRunner({ initialDelayMs: 10, maxDelayMs: 50, logger });
    const meet = barrier(2);
    const transfer = (from: number, to: number) =>
      o.retry(
        async (h, attempt) => {
          await o.add(h, from, -10);
          if (attempt.attempt === 1) await meet();
          await o.add(h, to, 10);
        },
        { runner, name: 'transfer' },
      );
    await Promise.all([transfer(1, 2), transfer(2, 1)]);
    expect(await o.admin.balances()).toEqual({ 1: 100, 2: 100, 3: 100 });
    const deadlock = logger.records.find((r) => r.object.kind === 'deadlock');
    expect(deadlock).toBeDefined();
    // The driver's own message: no SQL, no values, no ORM wrapper (Knex's prefix, DrizzleQueryError's text).
    expect(String(deadlock?.object.error)).not.toMatch(/update|account|params|QueryFailed/i);
  });

  it('a real serialization failure: the later transfer is redone on a fresh snapshot', async () => {
    const logger = recordingLogger();
    const runner = new DbOpRunner({ initialDelayMs: 10, maxDelayMs: 50, logger });
    const meet = barrier(2);
    const transfer = (to: number, amount: number) =>
      o.retry(
        async (h, attempt) => {
          const balance = await o.balance(h, 1);
          if (attempt.attempt === 1) await meet();
          await o.setBalance(h, 1, balance - amount);
          await o.add(h, to, amount);
        },
        { runner, isolationLevel: 'repeatable read' },
      );
    await Promise.all([transfer(2, 10), transfer(3, 5)]);
    // A lost update would leave account 1 at 90 or 95.
    expect(await o.admin.balances()).toEqual({ 1: 85, 2: 110, 3: 105 });
    expect(logger.records.some((r) => r.object.kind === 'serialization')).toBe(true);
  });

  it('the backend killed mid-transaction: reconnected through the pool, redone, applied once', async () => {
    let attempts = 0;
    await o.retry(
      async (h) => {
        attempts += 1;
        await o.add(h, 1, -10);
        if (attempts === 1) await o.admin.kill(await o.serverId(h));
        await o.add(h, 2, 10);
      },
      { runner: new DbOpRunner({ initialDelayMs: 10 }) },
    );
    expect(attempts).toBe(2);
    expect(await o.admin.balances()).toEqual({ 1: 90, 2: 110, 3: 100 });
    if (o.pooled !== undefined) expect(o.pooled().idle).toBe(o.pooled().total);
  });

  it('the backend killed during COMMIT: verified on another pooled connection, redone, applied once', async () => {
    let attempts = 0;
    let cut: { fired(): boolean } | undefined;
    await o.retry(
      async (h) => {
        attempts += 1;
        await move(h, 1, 2, 10);
        if (o.cutCommit !== undefined) {
          if (attempts === 1) cut = o.cutCommit('before-send');
          return;
        }
        await o.audit(h, attempts === 1 ? 1 : 0);
        if (attempts === 1) void o.admin.killInCommit(await o.serverId(h));
      },
      { runner: new DbOpRunner({ initialDelayMs: 10 }) },
    );
    if (o.cutCommit !== undefined) expect(cut?.fired()).toBe(true);
    expect(attempts).toBe(2);
    expect(await o.admin.balances()).toEqual({ 1: 90, 2: 110, 3: 100 });
  });

  it('COMMIT sent and its answer lost (MariaDB): verified, never applied twice', async () => {
    let attempts = 0;
    await o.retry(
      async (h) => {
        attempts += 1;
        await move(h, 1, 3, 7);
        if (attempts === 1 && o.cutCommit !== undefined) o.cutCommit('after-send');
      },
      { runner: new DbOpRunner({ initialDelayMs: 10 }) },
    );
    expect(await o.admin.balances()).toEqual({ 1: 93, 2: 100, 3: 107 });
  });

  it('an attempt timeout on a slow transaction: cancelled on the server, rolled back, redone once', async () => {
    let attempts = 0;
    await o.retry(
      async (h) => {
        attempts += 1;
        await move(h, 2, 3, 20);
        // 60 s against a 1.5 s attempt limit: only a cancel on the server ends it in time.
        if (attempts === 1) await o.sleep(h);
      },
      { runner: new DbOpRunner({ initialDelayMs: 10 }), attemptTimeoutMs: 1500 },
    );
    expect(attempts).toBe(2);
    expect(await o.admin.balances()).toEqual({ 1: 100, 2: 80, 3: 120 });
  });

  it('a nested lock timeout is retried in its savepoint; the outer transaction is not redone', async () => {
    const release = await o.admin.holdRow(3);
    let outer = 0;
    const stepAttempts: number[] = [];
    try {
      await o.retry(
        async (h) => {
          outer += 1;
          await move(h, 1, 2, 5);
          await o.step(
            h,
            async (inner, attempt) => {
              stepAttempts.push(attempt.attempt);
              if (attempt.attempt === 2) await release();
              await o.add(inner, 3, 1);
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
    expect(await o.admin.balances()).toEqual({ 1: 95, 2: 105, 3: 101 });
  });

  it("COMMIT, BEGIN or ROLLBACK sent through the handle is refused, never silently committed; dbop's BEGIN and COMMIT are in the ORM's log", async () => {
    for (const statement of ['COMMIT', '/* by hand */ BEGIN', 'ROLLBACK']) {
      const error = await o
        .retry(async (h) => {
          await move(h, 1, 2, 50);
          await o.raw(h, statement);
        })
        .catch((e: unknown) => e);
      expect(isDbopError(error, 'DBOP_TRANSACTION_BOUNDARY')).toBe(true);
    }
    expect(await o.admin.balances()).toEqual({ 1: 100, 2: 100, 3: 100 });
    expect(o.logged.some((s) => /^(BEGIN|START TRANSACTION)/i.test(s))).toBe(true);
    expect(o.logged).toContain('ROLLBACK');
    o.logged.length = 0;
    await o.retry((h) => move(h, 1, 2, 1), { isolationLevel: 'serializable' });
    expect(o.logged.some((s) => /SERIALIZABLE/i.test(s))).toBe(true);
    expect(o.logged).toContain('COMMIT');
    expect(await o.admin.balances()).toEqual({ 1: 99, 2: 101, 3: 100 });
  });
}

/** One ORM's side of the SQLite evidence: its retryTransaction and step over one SQLite connection. */
export interface SqliteOrmUnderTest<H> {
  readonly bank: SqliteBank;
  /** Every statement the ORM's own query log saw. */
  readonly logged: string[];
  retry: OrmUnderTest<H>['retry'];
  step: OrmUnderTest<H>['step'];
  add: OrmUnderTest<H>['add'];
  raw: OrmUnderTest<H>['raw'];
  /** The ORM connection's busy timeout (ms), read through the ORM outside any transaction. */
  busyTimeout(): Promise<number>;
  /** The better-sqlite3 Database the ORM uses now (a BUSY at BEGIN must not make it discard it). */
  connection(): Promise<unknown>;
  /** The same write through the ORM outside any retryTransaction (db, not a transaction handle). */
  addOutside(id: number, amount: number): Promise<unknown>;
  /**
   * The same write outside, through a statement the ORM prepared on the connection before dbop took it
   * (Drizzle's `.prepare()`, TypeORM's statement cache); runs it once now, and returns how to run it again.
   */
  preparedOutside(id: number, amount: number): Promise<() => Promise<unknown>>;
  /**
   * Another connection that takes SQLite's write lock, through the SQLite library the ORM's driver uses
   * (default: the bank's better-sqlite3 one). Two copies of SQLite in one process do not see each other's
   * locks (POSIX locks are per process), so node-sqlite3 needs a holder of its own.
   */
  readonly writer?: SqliteWriter;
}

/** BEGIN IMMEDIATE and COMMIT on a connection of its own. */
export interface SqliteWriter {
  begin(): Promise<void>;
  commit(): Promise<void>;
}

/**
 * The integrations' evidence on SQLite: a writer lock held elsewhere (SQLITE_BUSY) waited out by
 * retrying, two transactions at once on the ORM's one connection, a savepoint step, and the boundary
 * guard; what SQLite cannot produce is listed as skipped, with the reason.
 */
export function ormSqliteEvidence<H>(under: () => SqliteOrmUnderTest<H>): void {
  let o: SqliteOrmUnderTest<H>;
  const move = async (h: H, from: number, to: number, amount: number) => {
    await o.add(h, from, -amount);
    await o.add(h, to, amount);
  };
  beforeEach(() => {
    o = under();
    o.bank.reset();
    o.logged.length = 0;
  });

  it('a rollback SQLite makes on its own (ON CONFLICT ROLLBACK) swallowed by the callback: nothing after it runs in autocommit', async () => {
    o.bank.other.exec('CREATE TABLE IF NOT EXISTS orm_conflict (k INTEGER UNIQUE ON CONFLICT ROLLBACK)');
    o.bank.other.exec('DELETE FROM orm_conflict; INSERT INTO orm_conflict VALUES (1)');
    const error = await o
      .retry(async (h) => {
        await o.add(h, 1, -10);
        // SQLite rolls the whole transaction back; the callback swallows the error and carries on.
        await o.raw(h, 'INSERT INTO orm_conflict VALUES (1)').catch(() => {});
        await o.add(h, 2, 10);
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(o.bank.balances()).toEqual({ 1: 100, 2: 100, 3: 100 });
  });

  it('a writer lock held by another connection (SQLITE_BUSY) is waited out by retrying; applied once', async () => {
    const { other } = o.bank;
    const writer = o.writer ?? {
      begin: async () => void other.exec('BEGIN IMMEDIATE'),
      commit: async () => void other.exec('COMMIT'),
    };
    const before = await o.busyTimeout();
    const connection = await o.connection();
    await writer.begin();
    const logger = recordingLogger();
    // What letting go ended with (an error or undefined), handled at once and checked in the end.
    let released: Promise<unknown> | undefined;
    const release = () =>
      writer.commit().then(
        () => undefined,
        (error: unknown) => error,
      );
    // The other connection lets go once dbop reported the first BUSY: no timing involved.
    const warn = (object: object, message: string) => {
      logger.records.push({ level: 'warn', object: object as Record<string, unknown>, message });
      released ??= release();
    };
    const runner = new DbOpRunner({ initialDelayMs: 10, logger: { ...logger, warn } });
    let attempts = 0;
    let failed: unknown;
    try {
      await o.retry(
        async (h) => {
          attempts += 1;
          await move(h, 1, 2, 10);
        },
        { runner },
      );
    } finally {
      // Nothing was written under the lock: COMMIT lets go of it as ROLLBACK would.
      released ??= release();
      failed = await released;
    }
    expect(failed).toBeUndefined();
    // The first BEGIN IMMEDIATE met the lock, so the body ran once, on the retry.
    expect(attempts).toBe(1);
    expect(logger.records[0]?.object.kind).toBe('lock-timeout');
    // The connection's own busy timeout is back after dbop's per-step one.
    expect(await o.busyTimeout()).toBe(before);
    // BEGIN IMMEDIATE failed before any transaction opened: the connection is fine, and kept.
    expect(await o.connection()).toBe(connection);
    expect(o.bank.balances()).toEqual({ 1: 90, 2: 110, 3: 100 });
    expect(o.logged.some((s) => /^BEGIN IMMEDIATE/i.test(s))).toBe(true);
    expect(o.logged).toContain('COMMIT');
  });

  it("two transactions at once on the ORM's one connection run one after the other, each applied once", async () => {
    const meet = barrier(2);
    const entered: number[] = [];
    const transfer = (from: number, to: number) =>
      o.retry(async (h) => {
        entered.push(from);
        await o.add(h, from, -10);
        // Had both entered at once, the first to arrive would wait here for the other forever.
        await Promise.race([meet(), sleep(200)]);
        await o.add(h, to, 10);
      });
    await Promise.all([transfer(1, 2), transfer(2, 3)]);
    expect(entered.length).toBe(2);
    expect(o.bank.balances()).toEqual({ 1: 90, 2: 100, 3: 110 });
  });

  const writeOutsideDuringRollback = async (write: () => Promise<unknown>) => {
    let outside: Promise<unknown> = Promise.resolve();
    const error = await o
      .retry(async (h) => {
        await o.add(h, 1, -10);
        outside = write().then(
          () => 'done',
          (e: unknown) => e,
        );
        await sleep(50);
        throw new Error('business rule');
      })
      .catch((e: unknown) => e);
    expect((error as Error).message).toBe('business rule');
    const result = await outside;
    const balances = o.bank.balances();
    if (result === 'done') expect(balances).toEqual({ 1: 100, 2: 100, 3: 101 });
    else {
      // TypeORM wraps what a statement's run() throws in its QueryFailedError (driverError).
      const refused = (result as { driverError?: unknown }).driverError ?? result;
      expect(isDbopError(refused, 'DBOP_TRANSACTION_BOUNDARY')).toBe(true);
      expect(balances).toEqual({ 1: 100, 2: 100, 3: 100 });
    }
  };

  it("a write through the ORM outside dbop while dbop's transaction holds the connection: refused or applied, never reported done and undone with dbop's rollback", async () => {
    await writeOutsideDuringRollback(() => o.addOutside(3, 1));
    // Once dbop let go of the connection, the ORM writes outside again.
    await o.addOutside(2, 1);
    expect(o.bank.balances()[2]).toBe(101);
  });

  it('the same through a statement the ORM prepared before dbop took the connection: never reported done and undone', async () => {
    const write = await o.preparedOutside(3, 1);
    o.bank.reset();
    await writeOutsideDuringRollback(write);
    // The prepared statement works again once dbop let go of the connection.
    const before = o.bank.balances()[3] as number;
    await write();
    expect(o.bank.balances()[3]).toBe(before + 1);
  });

  it('a nested step is a SAVEPOINT: its failure is undone alone, the outer transfer commits', async () => {
    await o.retry(async (h) => {
      await move(h, 1, 2, 5);
      const failed = await o
        .step(h, async (inner) => {
          await move(inner, 2, 1, 50);
          throw new Error('business rule');
        })
        .catch((e: unknown) => e);
      expect((failed as Error).message).toBe('business rule');
    });
    expect(o.bank.balances()).toEqual({ 1: 95, 2: 105, 3: 100 });
    expect(o.logged.some((s) => /^SAVEPOINT/i.test(s))).toBe(true);
  });

  it('COMMIT, BEGIN or END sent through the handle is refused, and nothing is committed', async () => {
    for (const statement of ['COMMIT', '/* by hand */ BEGIN', 'END TRANSACTION']) {
      const error = await o
        .retry(async (h) => {
          await move(h, 1, 2, 1);
          await o.raw(h, statement);
        })
        .catch((e: unknown) => e);
      expect(isDbopError(error, 'DBOP_TRANSACTION_BOUNDARY')).toBe(true);
    }
    expect(o.bank.balances()).toEqual({ 1: 100, 2: 100, 3: 100 });
    expect(o.logged).toContain('ROLLBACK');
  });

  it.skip(
    'a real deadlock: not on SQLite, one writer at a time (BEGIN IMMEDIATE) leaves nothing to deadlock on',
  );
  it.skip('a real serialization failure: not on SQLite, writers take the lock in turn at BEGIN IMMEDIATE');
  it.skip('the backend killed mid-transaction or during COMMIT: not on SQLite, there is no server to lose');
  it.skip(
    'an attempt timeout on a slow transaction: not on SQLite, better-sqlite3 runs a statement synchronously, nothing cancels it',
  );
  it.skip(
    'a nested lock timeout: not on SQLite, the write lock is taken at BEGIN IMMEDIATE, before any step',
  );
}
