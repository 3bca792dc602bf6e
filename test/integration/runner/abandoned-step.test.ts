import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DbOpRunner } from '../../../src/runner/index.js';
import { mysql2Session } from '../../../src/sessions/mysql2/index.js';
import { pgSession } from '../../../src/sessions/pg/index.js';
import { describeIfMariadb, describeIfPostgres, mariadbUrl, postgresUrl } from '../../support/servers.js';
import { sleep } from './runner-support.js';

// A step that dbop abandons at its time limit keeps running as JavaScript. Its first attempt stalls in
// application code past the limit, then tries a second INSERT: that statement must never reach the server
// (in autocommit after dbop's rollback, or inside the retry's transaction).
async function stallingStep(
  query: (sql: string, params: unknown[]) => Promise<unknown>,
  table: string,
  attempt: number,
  marker: (n: number) => string,
): Promise<void> {
  await query(`INSERT INTO ${table} (note) VALUES (${marker(1)})`, [`${attempt}:first`]);
  if (attempt === 1) await sleep(300);
  await query(`INSERT INTO ${table} (note) VALUES (${marker(1)})`, [`${attempt}:second`]);
}

describeIfPostgres('an abandoned step on PostgreSQL', () => {
  const table = `dbop_abandoned_pg_${process.pid}`;
  let pool: pg.Pool;
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: postgresUrl(), max: 3 });
    await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (note text)`);
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.end();
  });

  it('cannot write after its attempt timed out: only the retry commits', async () => {
    const client = await pool.connect();
    try {
      const runner = new DbOpRunner({ maxRetries: 2, initialDelayMs: 1, maxDelayMs: 1 });
      await runner.transaction(
        pgSession(client),
        (s, context) =>
          stallingStep(
            (sql, params) => s.query(sql, params),
            table,
            context.attempt,
            (n) => `$${n}`,
          ),
        { attemptTimeoutMs: 150 },
      );
      await sleep(400); // past the stalled attempt's second INSERT
      const { rows } = await pool.query(`SELECT note FROM ${table} ORDER BY note`);
      expect(rows.map((r) => r.note)).toEqual(['2:first', '2:second']);
      expect((await client.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
    } finally {
      client.release();
    }
  });
});

describeIfMariadb('an abandoned step on MariaDB (mysql2)', () => {
  const table = `dbop_abandoned_my_${process.pid}`;
  let pool: mysql.Pool;
  beforeAll(async () => {
    pool = mysql.createPool({ uri: mariadbUrl(), connectionLimit: 3 });
    await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (note varchar(40)) ENGINE=InnoDB`);
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.end();
  });

  it('cannot write after the caller aborted: nothing of it commits', async () => {
    const connection = await pool.getConnection();
    try {
      const runner = new DbOpRunner({ maxRetries: 2, initialDelayMs: 1, maxDelayMs: 1 });
      const signal = AbortSignal.timeout(150);
      await expect(
        runner.transaction(
          mysql2Session(connection, { flavor: 'mariadb' }),
          (s, context) =>
            stallingStep(
              (sql, params) => s.query(sql, params),
              table,
              context.attempt,
              () => '?',
            ),
          { signal },
        ),
      ).rejects.toMatchObject({ name: 'TimeoutError' });
      await sleep(400);
      const [rows] = await pool.query(`SELECT note FROM ${table}`);
      expect(rows).toEqual([]);
    } finally {
      connection.release();
    }
  });
});
