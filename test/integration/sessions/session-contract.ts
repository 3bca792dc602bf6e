import { expect, it } from 'vitest';
import { applyTimeouts } from '../../../src/core/apply-timeouts.js';
import type { AttemptContext } from '../../../src/core/attempt.js';
import { attemptScope } from '../../../src/core/attempt-scope.js';
import { isAttemptTimeoutError } from '../../../src/core/errors.js';
import { execute } from '../../../src/core/execute.js';
import type { Session } from '../../../src/core/session.js';
import { Transaction } from '../../../src/runner/transaction.js';

/** What each adapter's test file provides to the shared contract. */
export interface ContractFixture {
  readonly session: Session;
  /** The n-th (1-based) parameter placeholder. */
  placeholder(n: number): string;
  /** The current lock timeout as the server reports it (any stable text). */
  readonly lockTimeoutQuery: string;
  /** Sets a distinctive lock timeout inside the open transaction (or for the session), as a user would. */
  readonly outerLockTimeoutSql: string;
  /** Whether a nested step can be made read-only (not on MySQL/MariaDB: READ ONLY exists only at start). */
  readonly nestedReadOnly: boolean;
  /** A statement that runs for seconds, where the driver can cancel it (absent: in-process engines). */
  readonly slowQuery?: string;
  /** True when the slow query's outcome shows dbop's cancel ended it (not the server's backstop timeout). */
  cancelledByDbop?(outcome: { readonly error?: unknown; readonly rows?: unknown[] }): boolean;
  close(): Promise<void>;
}

/** An attempt context for driving a scope by hand. */
export function context(readOnly = false): AttemptContext {
  return {
    attempt: 1,
    signal: new AbortController().signal,
    readOnly,
    name: 'contract',
    startedAt: 0,
    remainingMs: () => Number.POSITIVE_INFINITY,
  };
}

async function inScope<T>(
  session: Session,
  options: Parameters<typeof attemptScope>[1],
  fn: () => Promise<T>,
): Promise<T> {
  const scope = attemptScope(session, options);
  const ctx = context(options?.readOnly ?? false);
  await scope.begin(ctx);
  try {
    const value = await fn();
    await scope.commit(ctx);
    return value;
  } catch (error) {
    await scope.rollback(ctx, error);
    throw error;
  }
}

async function first(session: Session, sql: string): Promise<string> {
  const { rows } = await session.query(sql);
  return String(Object.values(rows[0] ?? {})[0]);
}

/** The contract every session adapter passes (rules S1 to S4), against a real server. */
export function sessionContract(setup: () => Promise<ContractFixture>): void {
  const table = `dbop_contract_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
  const withFixture = (fn: (f: ContractFixture, s: Session) => Promise<void>) => async () => {
    const f = await setup();
    try {
      await f.session.query(`DROP TABLE IF EXISTS ${table}`);
      await f.session.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v INT NOT NULL)`);
      await fn(f, f.session);
    } finally {
      if (f.session.inTransaction()) await f.session.rollback();
      if (!f.session.destroyed) await f.session.query(`DROP TABLE IF EXISTS ${table}`);
      await f.close();
    }
  };
  const count = async (s: Session): Promise<number> =>
    Number(await first(s, `SELECT COUNT(*) AS n FROM ${table}`));

  it(
    'queries with parameters and reports rows and rowCount',
    withFixture(async (f, s) => {
      const insert = await s.query(
        `INSERT INTO ${table} (id, v) VALUES (${f.placeholder(1)}, ${f.placeholder(2)})`,
        [1, 10],
      );
      expect(insert.rowCount).toBe(1);
      const { rows, rowCount } = await s.query<{ v: number }>(
        `SELECT v FROM ${table} WHERE id = ${f.placeholder(1)}`,
        [1],
      );
      expect(rowCount).toBe(1);
      expect(Number(rows[0]!.v)).toBe(10);
    }),
  );

  it(
    'S1: with no transaction open, the scope begins and commits, or rolls back on failure',
    withFixture(async (_f, s) => {
      expect(s.inTransaction()).toBe(false);
      await inScope(s, {}, async () => {
        expect(s.inTransaction()).toBe(true);
        await s.query(`INSERT INTO ${table} (id, v) VALUES (1, 1)`);
      });
      expect(s.inTransaction()).toBe(false);
      await expect(
        inScope(s, {}, async () => {
          await s.query(`INSERT INTO ${table} (id, v) VALUES (2, 2)`);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(s.inTransaction()).toBe(false);
      expect(await count(s)).toBe(1);
    }),
  );

  it(
    'S1: inside a transaction a failed step rolls back to its savepoint and the outer work survives',
    withFixture(async (_f, s) => {
      await s.begin();
      await s.query(`INSERT INTO ${table} (id, v) VALUES (1, 1)`);
      await expect(
        inScope(s, {}, async () => {
          await s.query(`INSERT INTO ${table} (id, v) VALUES (2, 2)`);
          await s.query(`INSERT INTO ${table} (id, v) VALUES (1, 1)`); // duplicate key: a real server error
        }),
      ).rejects.toBeTruthy();
      expect(s.inTransaction()).toBe(true);
      await inScope(s, {}, () => s.query(`INSERT INTO ${table} (id, v) VALUES (3, 3)`));
      await s.commit();
      const { rows } = await s.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`);
      expect(rows.map((r) => Number(r.id))).toEqual([1, 3]);
    }),
  );

  it(
    'S3: a step lock timeout applies inside the step and the outer setting is back after it',
    withFixture(async (f, s) => {
      await s.begin();
      await s.query(f.outerLockTimeoutSql);
      const outer = await first(s, f.lockTimeoutQuery);
      let inside = '';
      await inScope(s, { lockTimeoutMs: 50 }, async () => {
        inside = await first(s, f.lockTimeoutQuery);
      });
      expect(inside).not.toBe(outer);
      expect(await first(s, f.lockTimeoutQuery)).toBe(outer);
      await expect(
        inScope(s, { lockTimeoutMs: 50 }, async () => {
          throw new Error('step failed');
        }),
      ).rejects.toThrow('step failed');
      expect(await first(s, f.lockTimeoutQuery)).toBe(outer);
      await s.rollback();
    }),
  );

  it(
    'S4: after a failed top-level step with timeouts the connection is clean',
    withFixture(async (f, s) => {
      const before = await first(s, f.lockTimeoutQuery);
      await expect(
        inScope(s, { lockTimeoutMs: 50, statementTimeoutMs: 1000 }, async () => {
          await s.query(`INSERT INTO ${table} (id, v) VALUES (1, 1)`);
          await s.query(`INSERT INTO ${table} (id, v) VALUES (1, 1)`);
        }),
      ).rejects.toBeTruthy();
      expect(s.inTransaction()).toBe(false);
      expect(await first(s, f.lockTimeoutQuery)).toBe(before);
      expect(await count(s)).toBe(0);
    }),
  );

  it(
    'S2: a read-only step inside a transaction leaves the outer transaction writable',
    withFixture(async (f, s) => {
      await s.begin();
      await s.query(`INSERT INTO ${table} (id, v) VALUES (1, 1)`);
      const seen = await inScope(s, { readOnly: true }, () => count(s));
      expect(seen).toBe(1);
      if (f.nestedReadOnly) {
        await expect(
          inScope(s, { readOnly: true }, () => s.query(`INSERT INTO ${table} (id, v) VALUES (5, 5)`)),
        ).rejects.toBeTruthy();
      }
      await s.query(`INSERT INTO ${table} (id, v) VALUES (2, 2)`);
      await s.commit();
      expect(await count(s)).toBe(2);
    }),
  );

  it(
    'S2: a read-only step with no transaction refuses writes and leaves the connection writable',
    withFixture(async (_f, s) => {
      await expect(
        inScope(s, { readOnly: true }, () => s.query(`INSERT INTO ${table} (id, v) VALUES (1, 1)`)),
      ).rejects.toBeTruthy();
      expect(s.inTransaction()).toBe(false);
      await s.query(`INSERT INTO ${table} (id, v) VALUES (2, 2)`);
      expect(await count(s)).toBe(1);
    }),
  );

  it(
    'applyTimeouts outside a transaction sets the session value and restore() puts it back',
    withFixture(async (f, s) => {
      const before = await first(s, f.lockTimeoutQuery);
      const applied = await applyTimeouts(s, { lockTimeoutMs: 3000 });
      expect(await first(s, f.lockTimeoutQuery)).not.toBe(before);
      await applied.restore();
      expect(await first(s, f.lockTimeoutQuery)).toBe(before);
    }),
  );

  it(
    'savepoint(), releaseSavepoint() and rollbackToSavepoint() nest with generated names',
    withFixture(async (_f, s) => {
      await s.begin();
      const a = await s.savepoint();
      await s.query(`INSERT INTO ${table} (id, v) VALUES (1, 1)`);
      const b = await s.savepoint();
      expect(b).not.toBe(a);
      await s.query(`INSERT INTO ${table} (id, v) VALUES (2, 2)`);
      await s.rollbackToSavepoint(b);
      await s.releaseSavepoint(a);
      await s.commit();
      expect(await count(s)).toBe(1);
    }),
  );

  it('E6/S4: an attempt timeout cancels the statement on the server and leaves the connection clean', async (test) => {
    const f = await setup();
    try {
      if (f.slowQuery === undefined) return test.skip();
      const s = f.session;
      const before = await first(s, f.lockTimeoutQuery);
      let outcome: { error?: unknown; rows?: unknown[] } = {};
      const started = Date.now();
      const error = await execute(
        () =>
          s.query(f.slowQuery!).then(
            (r) => {
              outcome = { rows: r.rows };
            },
            (e: unknown) => {
              outcome = { error: e };
              throw e;
            },
          ),
        {
          scope: () => attemptScope(s, { lockTimeoutMs: 100 }),
          attemptTimeoutMs: 300,
          policy: { maxRetries: 0 },
        },
      ).catch((e: unknown) => e);
      expect(isAttemptTimeoutError(error)).toBe(true);
      // The slow queries sleep 10 s: 8 s tells a cancelled one from a waited-out one on a loaded machine.
      expect(Date.now() - started).toBeLessThan(8000);
      expect(s.destroyed, 'destroyed').toBe(false);
      expect(s.inTransaction(), 'inTransaction').toBe(false);
      expect(f.cancelledByDbop?.(outcome), JSON.stringify(String(outcome.error))).toBe(true);
      expect(await first(s, f.lockTimeoutQuery)).toBe(before);
    } finally {
      await f.close();
    }
  });

  it(
    'Transaction with await using: rolls back on exit unless committed',
    withFixture(async (_f, s) => {
      {
        await using tx = await Transaction.begin(s);
        await tx.session.query(`INSERT INTO ${table} (id, v) VALUES (1, 1)`);
      }
      expect(s.inTransaction()).toBe(false);
      expect(await count(s)).toBe(0);
      {
        await using tx = await Transaction.begin(s, { isolationLevel: 'serializable' });
        await tx.session.query(`INSERT INTO ${table} (id, v) VALUES (2, 2)`);
        await tx.commit();
      }
      expect(await count(s)).toBe(1);
    }),
  );

  it(
    'Transaction.begin({ readOnly: true }) refuses writes; the connection is writable after it',
    withFixture(async (_f, s) => {
      {
        await using tx = await Transaction.begin(s, { readOnly: true });
        await expect(tx.session.query(`INSERT INTO ${table} (id, v) VALUES (1, 1)`)).rejects.toBeTruthy();
      }
      expect(s.inTransaction()).toBe(false);
      {
        await using tx = await Transaction.begin(s, { readOnly: true });
        expect(await count(s)).toBe(0);
        await tx.commit();
      }
      await s.query(`INSERT INTO ${table} (id, v) VALUES (2, 2)`);
      expect(await count(s)).toBe(1);
    }),
  );
}
