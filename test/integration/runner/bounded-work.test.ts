import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DbOpRunner } from '../../../src/runner/index.js';
import { pgPoolSource } from '../../../src/sessions/pg/index.js';
import { describeIfPostgres, postgresUrl } from '../../support/servers.js';

const table = `dbop_bounded_${process.pid}`;

// E14: one call's total work is bounded by its own policy, nested steps included. A run() step inside
// runner.transaction(), both allowed 5 retries, on a row another transaction keeps locked: before, the step
// made 6 attempts per transaction attempt and the transaction 6 attempts, 36 in all.
describeIfPostgres('nested steps draw from the owning call (PostgreSQL)', () => {
  let pool: pg.Pool;
  let locker: pg.PoolClient;
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: postgresUrl(), max: 4 });
    await pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY, n int NOT NULL)`);
    await pool.query(`INSERT INTO ${table} VALUES (1, 0)`);
    locker = await pool.connect();
    await locker.query('BEGIN');
    await locker.query(`SELECT * FROM ${table} WHERE id = 1 FOR UPDATE`);
  });
  afterAll(async () => {
    await locker?.query('ROLLBACK');
    locker?.release();
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.end();
  });

  it("a step that keeps timing out on a lock: at most maxRetries + 1 attempts in all, the owner's", async () => {
    const runner = new DbOpRunner({ maxRetries: 5, initialDelayMs: 1, maxDelayMs: 5 });
    let outer = 0;
    let inner = 0;
    const error = await runner
      .transaction(pgPoolSource(pool), async (s) => {
        outer++;
        await runner.run(
          s,
          async (step) => {
            inner++;
            await step.query(`UPDATE ${table} SET n = n + 1 WHERE id = 1`);
          },
          { lockTimeoutMs: 50 },
        );
      })
      .catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('55P03');
    expect({ outer, inner }).toEqual({ outer: 1, inner: 6 });
  });

  it("a nested step's retries and the owner's restarts share one allowance", async () => {
    await pool.query(`INSERT INTO ${table} VALUES (2, 0) ON CONFLICT DO NOTHING`);
    const runner = new DbOpRunner({ maxRetries: 3, initialDelayMs: 1, maxDelayMs: 5 });
    let outer = 0;
    let inner = 0;
    const error = await runner
      .transaction(pgPoolSource(pool), async (s) => {
        outer++;
        // The step's first attempt meets the lock (55P03) and is retried in its savepoint: one retry...
        await runner.run(
          s,
          async (step) => {
            inner++;
            await step.query(`UPDATE ${table} SET n = n + 1 WHERE id = $1`, [inner === 1 ? 1 : 2]);
          },
          { lockTimeoutMs: 50 },
        );
        // ...then a serialization failure only a restart of the whole transaction can fix, every time.
        throw Object.assign(new Error('could not serialize access'), { code: '40001' });
      })
      .catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('40001');
    // 3 retries in all: the step's one, then two restarts of the owner (before: three restarts).
    expect({ outer, inner }).toEqual({ outer: 3, inner: 4 });
  });
});
