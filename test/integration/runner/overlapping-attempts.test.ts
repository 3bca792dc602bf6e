import pg from 'pg';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { attemptScope } from '../../../src/core/attempt-scope.js';
import {
  AttemptStillRunningError,
  isAmbiguousCommitError,
  isAttemptTimeoutError,
} from '../../../src/core/errors.js';
import { execute } from '../../../src/execute.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { pgPoolSource, pgSession } from '../../../src/sessions/pg/index.js';
import { describeIfPostgres, postgresUrl } from '../../support/servers.js';
import { sleep } from './runner-support.js';

const table = `dbop_overlap_${process.pid}`;

// E13: attempts never overlap. A transfer written by hand with the driver (what an ORM's transaction() does)
// is opaque to dbop: at its attempt limit dbop cannot stop it, so it must wait for it, not start another.
describeIfPostgres('attempts never overlap (PostgreSQL)', () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: postgresUrl(), max: 8 });
    await pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY, balance int NOT NULL)`);
  });
  beforeEach(async () => {
    await pool.query(`TRUNCATE ${table}`);
    await pool.query(`INSERT INTO ${table} VALUES (1, 100), (2, 0)`);
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.end();
  });

  /** A transfer of 10 in its own transaction that takes `seconds`; resolves to the attempt that ran it. */
  const transfer =
    (seconds: number, started: number[]) =>
    async ({ attempt }: { attempt: number }): Promise<number> => {
      started.push(attempt);
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('SELECT pg_sleep($1)', [seconds]);
        await client.query(`UPDATE ${table} SET balance = balance - 10 WHERE id = 1`);
        await client.query(`UPDATE ${table} SET balance = balance + 10 WHERE id = 2`);
        await client.query('COMMIT');
        return attempt;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    };

  const balances = async (): Promise<number[]> =>
    (await pool.query(`SELECT balance FROM ${table} ORDER BY id`)).rows.map((r) => r.balance as number);

  it('an opaque op that outlives its attempt limit is awaited, not overlapped: applied once', async () => {
    const started: number[] = [];
    const result = await execute(transfer(1.5, started), { attemptTimeoutMs: 300 });
    // The first attempt finished its work after the limit: its result stands, nothing ran beside it.
    expect(result).toBe(1);
    expect(started).toEqual([1]);
    await sleep(500);
    expect(await balances()).toEqual([90, 10]);
  });

  it('still running after the cleanup limit: ambiguous, not retried; applied at most once', async () => {
    const started: number[] = [];
    const error = await execute(transfer(2, started), { attemptTimeoutMs: 200, cleanupTimeoutMs: 300 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AttemptStillRunningError);
    expect(isAmbiguousCommitError(error)).toBe(true);
    expect(isAttemptTimeoutError((error as Error).cause)).toBe(true);
    expect(started).toEqual([1]);
    await sleep(2500); // the abandoned attempt commits on its own
    expect(await balances()).toEqual([90, 10]);
    expect(started).toEqual([1]);
  });

  it('with a session scope dbop stops the attempt on the server: rolled back, retried, applied once', async () => {
    const client = await pool.connect();
    const session = pgSession(client, { sidecar: pool });
    const started: number[] = [];
    try {
      const result = await execute(
        async ({ attempt }) => {
          started.push(attempt);
          if (attempt === 1) await session.query('SELECT pg_sleep(5)');
          await session.query(`UPDATE ${table} SET balance = balance - 10 WHERE id = 1`);
          await session.query(`UPDATE ${table} SET balance = balance + 10 WHERE id = 2`);
          return attempt;
        },
        { scope: () => attemptScope(session), attemptTimeoutMs: 300, policy: { initialDelayMs: 1 } },
      );
      expect(result).toBe(2);
    } finally {
      client.release();
    }
    expect(started).toEqual([1, 2]);
    expect(await balances()).toEqual([90, 10]);
  });

  it('runner.transaction over a pool: the timed-out attempt is cancelled and rolled back, applied once', async () => {
    const runner = new DbOpRunner({ initialDelayMs: 1 });
    const started: number[] = [];
    const result = await runner.transaction(
      pgPoolSource(pool),
      async (s, { attempt }) => {
        started.push(attempt);
        if (attempt === 1) await s.query('SELECT pg_sleep(5)');
        await s.query(`UPDATE ${table} SET balance = balance - 10 WHERE id = 1`);
        await s.query(`UPDATE ${table} SET balance = balance + 10 WHERE id = 2`);
        return attempt;
      },
      { attemptTimeoutMs: 300 },
    );
    expect(result).toBe(2);
    expect(started).toEqual([1, 2]);
    expect(await balances()).toEqual([90, 10]);
  });
});
