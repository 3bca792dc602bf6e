import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConcurrencyLimiter } from '../../../src/core/concurrency-limiter.js';
import { RetryBudget } from '../../../src/core/retry-budget.js';
import { DbOpRunner } from '../../../src/runner/index.js';
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
      initialDelayMs: 300,
      maxDelayMs: 300,
      jitter: 'none',
    });
    // Before: attempts at 0, 320, 660, 1040 and 1500 ms waited 20, 40, 80, 160 and 320 ms; the fifth failed
    // at 1820, and a sixth could only start at 2120, past the deadline. Now the fifth waits until the
    // deadline (the lock is free at 1900).
    const { released } = await holdRow(1900);
    const outcome = await runner
      .transaction(pgPoolSource(pool), (s) => s.query(`UPDATE ${table} SET n = n + 1 WHERE id = 1`), {
        deadlineMs: 2050,
      })
      .then(
        () => 'committed',
        (error: { code?: string }) => `failed ${error.code}`,
      );
    await released;
    // Before: 'failed 55P03' at about 1.8 s, with the lock free at 1.9 s and the deadline at 2.05 s.
    expect(outcome).toBe('committed');
  });
  // Known defect, not fixed here: whether an attempt is the last is decided when it begins, but a nested
  // step may take the owner's last retry afterwards. The owner's own statement then meets the short wait
  // with no retry left. `it.fails` until fixed (flip to `it` then).
  it.fails("a nested step that takes the owner's last retry: the owner's next statement still waits the full lock timeout", async () => {
    await pool.query(`INSERT INTO ${table} VALUES (2, 0) ON CONFLICT DO NOTHING`);
    const runner = new DbOpRunner({ limiter: contendedLimiter(), maxRetries: 1, initialDelayMs: 1 });
    const holders = [await pool.connect(), await pool.connect()];
    for (const [index, holder] of holders.entries()) {
      await holder.query('BEGIN');
      await holder.query(`SELECT n FROM ${table} WHERE id = $1 FOR UPDATE`, [index + 1]);
    }
    const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
    const released = Promise.all(
      holders.map((holder, index) =>
        sleep(index === 0 ? 300 : 800).then(async () => {
          await holder.query('COMMIT');
          holder.release();
        }),
      ),
    );
    const outcome = await runner
      .transaction(pgPoolSource(pool), async (s) => {
        // Row 1 is free at 300 ms: the step's first attempt times out (250 ms), its retry takes the last one.
        await runner.run(s, (step) => step.query(`UPDATE ${table} SET n = n + 1 WHERE id = 1`), {
          lockTimeoutMs: 250,
        });
        // Row 2 is free at 800 ms; this attempt began with 20 ms, and cannot be retried any more.
        await s.query(`UPDATE ${table} SET n = n + 1 WHERE id = 2`);
      })
      .then(
        () => 'committed',
        (error: { code?: string }) => `failed ${error.code}`,
      );
    await released;
    expect(outcome).toBe('committed');
  });
});
