import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConcurrencyLimiter } from '../../../src/core/concurrency-limiter.js';
import { RetryBudget } from '../../../src/core/retry-budget.js';
import type { Session } from '../../../src/core/session.js';
import { DbOpRunner, type StepFunction } from '../../../src/runner/index.js';
import { pgPoolSource } from '../../../src/sessions/pg/index.js';
import { describeIfPostgres, postgresUrl } from '../../support/servers.js';

const table = `dbop_last_wait_${process.pid}`;

// Under contention the runner shortens the lock wait of every attempt but the last one the call can make,
// which waits the full lock timeout: a lock held for long is still waited out. An attempt is the last one
// not only when the count runs out: also when the shared retry budget or the call's deadline leaves no retry.
describeIfPostgres('the full lock wait on the last attempt a call can really make (PostgreSQL)', () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: postgresUrl(), max: 4 });
    await pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY, n int NOT NULL)`);
    await pool.query(`INSERT INTO ${table} VALUES (1, 0)`);
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.end();
  });

  /** A limiter that saw contention a moment ago: it suggests its shortest lock wait (20 ms). */
  function contendedLimiter(): ConcurrencyLimiter {
    const limiter = new ConcurrencyLimiter({ maxLimit: 4 });
    limiter.tryAcquire()!.release('contention');
    return limiter;
  }

  /** Holds row 1 locked from another connection for `ms`, then commits. */
  async function holdRow(ms: number): Promise<{ readonly released: Promise<void> }> {
    const holder = await pool.connect();
    await holder.query('BEGIN');
    await holder.query(`SELECT n FROM ${table} WHERE id = 1 FOR UPDATE`);
    const released = new Promise<void>((resolve) => setTimeout(resolve, ms)).then(async () => {
      await holder.query('COMMIT');
      holder.release();
    });
    return { released };
  }

  it('a retry budget that refuses every retry: the one attempt waits the full lock timeout', async () => {
    const runner = new DbOpRunner({
      limiter: contendedLimiter(),
      budget: new RetryBudget({ ratio: 0, minRetriesPerSecond: 0 }),
    });
    const { released } = await holdRow(300);
    const outcome = await runner
      .transaction(pgPoolSource(pool), (s) => s.query(`UPDATE ${table} SET n = n + 1 WHERE id = 1`))
      .then(
        () => 'committed',
        (error: { code?: string }) => `failed ${error.code}`,
      );
    await released;
    // Before: 'failed 55P03' after 20 ms, on a lock held for 300 ms that a 10 s wait would have outlasted.
    expect(outcome).toBe('committed');
  });

  it('a deadline that leaves no time for another attempt: that attempt waits until the deadline', async () => {
    const runner = new DbOpRunner({
      limiter: contendedLimiter(),
      maxRetries: 10,
      initialDelayMs: 600,
      maxDelayMs: 600,
      jitter: 'none',
    });
    // Before: attempts at 0, 620, 1260, 1940 and 2700 ms waited 20, 40, 80, 160 and 320 ms; the fifth failed
    // at 3020, and a sixth could only start at 3620, past the deadline. Now the fifth (less than twice its
    // wait plus the longest backoff left) waits until the deadline: the lock is free at 3200, 400 ms before.
    const { released } = await holdRow(3200);
    const outcome = await runner
      .transaction(pgPoolSource(pool), (s) => s.query(`UPDATE ${table} SET n = n + 1 WHERE id = 1`), {
        deadlineMs: 3600,
      })
      .then(
        () => 'committed',
        (error: { code?: string }) => `failed ${error.code}`,
      );
    await released;
    // Before: 'failed 55P03' at about 3.0 s, with the lock free at 3.2 s and the deadline at 3.6 s.
    expect(outcome).toBe('committed');
  });

  type Steps = (
    runner: DbOpRunner,
    s: Session<pg.PoolClient>,
    nowait: StepFunction<void, pg.PoolClient>,
  ) => Promise<unknown>;

  /**
   * The owner's lock wait before and after `steps`, which run a step that meets a real 55P03 (NOWAIT on a row
   * another connection holds) on its first try: retried in its savepoint, with the owner's last retry.
   */
  async function lockWaitsAround(steps: Steps): Promise<string[]> {
    const runner = new DbOpRunner({ limiter: contendedLimiter(), maxRetries: 1, initialDelayMs: 1 });
    const holder = await pool.connect();
    await holder.query('BEGIN');
    await holder.query(`SELECT n FROM ${table} WHERE id = 1 FOR UPDATE`);
    const nowait: StepFunction<void, pg.PoolClient> = async (step, attempt) => {
      if (attempt.attempt === 1) await step.query(`SELECT n FROM ${table} WHERE id = 1 FOR UPDATE NOWAIT`);
    };
    const show = async (s: Session<pg.PoolClient>): Promise<string> =>
      ((await s.query('SHOW lock_timeout')).rows[0] as { lock_timeout: string }).lock_timeout;
    try {
      return await runner.transaction(pgPoolSource(pool), async (s) => {
        const before = await show(s);
        await steps(runner, s, nowait);
        return [before, await show(s)];
      });
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
  }

  it("a nested step that spends the owner's last retry gives the owner's statements the full lock wait back", async () => {
    const seen = await lockWaitsAround((runner, s, nowait) => runner.run(s, nowait));
    // Before: ['20ms', '20ms'], and the owner's next lock wait failed with no retry left.
    expect(seen).toEqual(['20ms', '10s']);
  });

  it("a step nested in a step that spends the owner's last retry: the full lock wait outlives the outer step", async () => {
    const seen = await lockWaitsAround((runner, s, nowait) =>
      runner.run(s, (outer) => runner.run(outer, nowait)),
    );
    // Before: ['20ms', '20ms']: the outer step's savepoint scope put back the short wait after the inner
    // step restored the full one, and the inner step had already used up the restore.
    expect(seen).toEqual(['20ms', '10s']);
  });
});
