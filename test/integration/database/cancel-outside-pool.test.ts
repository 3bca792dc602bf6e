import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { pgPoolSource } from '../../../src/sessions/pg/index.js';
import { describeIfMariadb, describeIfPostgres, mariadbUrl, postgresUrl } from '../../support/servers.js';

const table = `dbop_cancel_outside_${process.pid}`;

// With every pooled connection busy (max: 1), the cancel of a timed-out statement must not queue behind
// the connection it is meant to free: it goes through a short-lived connection of its own. Queued in the
// pool, each timed-out attempt waited out the 5 s cleanup limit before the next could start.
function suite(name: string, url: () => string, sleep: string): void {
  let db: Database;
  beforeAll(async () => {
    db = await createDatabase({ url: url(), max: 1, maxRetries: 5 });
    await db.query(`DROP TABLE IF EXISTS ${table}`);
    await db.query(`CREATE TABLE ${table} (id INT PRIMARY KEY)`);
  });
  afterAll(async () => {
    await db?.query(`DROP TABLE IF EXISTS ${table}`);
    await db?.close();
  });

  it(`${name}: three timed-out attempts and a good one finish well inside the cleanup limits`, async () => {
    let attempts = 0;
    const started = Date.now();
    await db.transaction(
      async (conn) => {
        attempts += 1;
        await conn.execute(`INSERT INTO ${table} VALUES (1)`);
        if (attempts <= 3) await conn.execute(sleep);
      },
      { attemptTimeoutMs: 300 },
    );
    const elapsed = Date.now() - started;
    expect(attempts).toBe(4);
    // Before: about 3 x 5.4 s. Now about 3 x 0.3 s plus reconnects; wide room for a loaded machine.
    expect(elapsed).toBeLessThan(10_000);
    const { rows } = await db.query(`SELECT COUNT(*) AS n FROM ${table}`);
    expect(Number(rows[0]?.n)).toBe(1);
    // The pool's one connection is usable again.
    expect((await db.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  }, 60_000);
}

describeIfPostgres('attempt timeout with a full pool: cancel outside the pool (pg)', () => {
  suite('pg', postgresUrl, 'SELECT pg_sleep(3)');
});
describeIfMariadb('attempt timeout with a full pool: cancel outside the pool (mysql2)', () => {
  suite('mysql2', mariadbUrl, 'SELECT SLEEP(3)');
});
describeIfMariadb('attempt timeout with a full pool: cancel outside the pool (mariadb)', () => {
  suite('mariadb', () => mariadbUrl().replace(/^mysql:/, 'mariadb:'), 'SELECT SLEEP(3)');
});

describeIfPostgres('attempt timeout with a full pool: pgPoolSource over a user pg.Pool (max: 1)', () => {
  it('cancels on a Client of its own, opened with the pool settings', async () => {
    const pool = new pg.Pool({ connectionString: postgresUrl(), max: 1 });
    try {
      const runner = new DbOpRunner({ maxRetries: 5 });
      let attempts = 0;
      const started = Date.now();
      await runner.transaction(
        pgPoolSource(pool),
        async (session) => {
          attempts += 1;
          if (attempts <= 3) await session.query('SELECT pg_sleep(3)');
        },
        { attemptTimeoutMs: 300 },
      );
      expect(attempts).toBe(4);
      // Before: about 3 x 5.4 s (the cancel queued in the pool behind the statement it was to stop).
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await pool.end();
    }
  }, 60_000);
});
