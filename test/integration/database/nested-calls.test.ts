import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import { describeIfPostgres, postgresUrl } from '../../support/servers.js';

const table = `dbop_nested_calls_${process.pid}`;
const transient = (): Error => Object.assign(new Error('could not serialize access'), { code: '40001' });

// E14 through the facade: a db call started inside another one's attempt, on another pooled connection,
// draws its retries from the outer call. Both allowed 5 retries: before, 6 inner attempts per outer attempt.
describeIfPostgres('db calls nested in db calls share the outer allowance (PostgreSQL)', () => {
  let db: Database;
  let locker: pg.Client;
  beforeAll(async () => {
    db = await createDatabase({
      url: postgresUrl(),
      max: 3,
      maxRetries: 5,
      initialDelayMs: 1,
      maxDelayMs: 5,
    });
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, n int NOT NULL)`);
    await db.query(`INSERT INTO ${table} VALUES (1, 0)`);
    locker = new pg.Client({ connectionString: postgresUrl() });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query(`SELECT * FROM ${table} WHERE id = 1 FOR UPDATE`);
  });
  afterAll(async () => {
    await locker?.query('ROLLBACK');
    await locker?.end();
    await db?.query(`DROP TABLE IF EXISTS ${table}`);
    await db?.close();
  });

  it('db.transaction(fn) whose fn calls db.run() that meets 55P03: maxRetries + 1 attempts in all', async () => {
    let outer = 0;
    let inner = 0;
    const error = await db
      .transaction(async () => {
        outer++;
        await db.run(
          (c) => {
            inner++;
            return c.execute(`UPDATE ${table} SET n = n + 1 WHERE id = 1`);
          },
          { lockTimeoutMs: 50 },
        );
      })
      .catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('55P03');
    expect({ outer, inner }).toEqual({ outer: 1, inner: 6 });
  });

  it('db.transaction(fn) whose fn calls db.query() that meets 55P03: maxRetries + 1 attempts in all', async () => {
    let outer = 0;
    const statements = db.stats().errors;
    const error = await db
      .transaction(async () => {
        outer++;
        await db.query(`UPDATE ${table} SET n = n + 1 WHERE id = 1`, [], { lockTimeoutMs: 50 });
      })
      .catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('55P03');
    const lockTimeouts =
      (db.stats().errors.byCode['postgres:55P03'] ?? 0) - (statements.byCode['postgres:55P03'] ?? 0);
    expect({ outer, lockTimeouts }).toEqual({ outer: 1, lockTimeouts: 6 });
  });

  it('db.transaction inside db.transaction with 40001: maxRetries + 1 attempts in all', async () => {
    let outer = 0;
    let inner = 0;
    const error = await db
      .transaction(async () => {
        outer++;
        await db.transaction(async () => {
          inner++;
          throw transient();
        });
      })
      .catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('40001');
    expect({ outer, inner }).toEqual({ outer: 1, inner: 6 });
  });

  it('a nested unit is admitted once: the limiter counts the outer unit only', async () => {
    let inFlight = -1;
    await db.transaction(() => db.transaction(() => (inFlight = db.stats().limiter!.inFlight)));
    expect(inFlight).toBe(1);
  });
});
