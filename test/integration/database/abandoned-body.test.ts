import { afterAll, beforeAll, expect, it } from 'vitest';
import { isDbopError } from '../../../src/core/errors.js';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import { describeIfPostgres, postgresUrl } from '../../support/servers.js';

const t = `dbop_abandoned_body_${process.pid}`;

describeIfPostgres('a db.transaction body abandoned at its time limit (PostgreSQL)', () => {
  let db: Database;

  beforeAll(async () => {
    db = await createDatabase({ url: postgresUrl(), max: 2, initialDelayMs: 10 });
    await db.query(`DROP TABLE IF EXISTS ${t}`);
    await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY)`);
  });

  afterAll(async () => {
    await db?.query(`DROP TABLE IF EXISTS ${t}`);
    await db?.close();
  });

  it('sends nothing once its attempt ended: conn.execute rejects with the timeout, not counted as a database error', async () => {
    let resume!: () => void;
    const held = new Promise<void>((resolve) => {
      resume = resolve;
    });
    let late: Promise<unknown> | undefined;
    const before = db.stats().errors.total;
    await db.transaction(
      async (conn, attempt) => {
        if (attempt.attempt > 1) return;
        // The first attempt outlives its limit; the retry commits meanwhile.
        await held;
        late = conn.execute(`INSERT INTO ${t} VALUES ($1)`, [1]);
      },
      { attemptTimeoutMs: 100 },
    );
    resume();
    await expect.poll(() => late !== undefined, { timeout: 5000 }).toBe(true);
    const error = await late!.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDbopError(error) && error.code).toBe('DBOP_ATTEMPT_TIMEOUT');
    expect((await db.query(`SELECT count(*)::int AS n FROM ${t}`)).rows).toEqual([{ n: 0 }]);
    // The fence's refusal is dbop's, not the database's: not counted (nothing was in flight to time out).
    expect(db.stats().errors.total).toBe(before);
  });
});
