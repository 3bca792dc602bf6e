import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../../src/core/session.js';
import { maxTimeoutMs } from '../../../src/core/validate.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { mysql2Session } from '../../../src/sessions/mysql2/index.js';
import { pgPoolSource, pgSession } from '../../../src/sessions/pg/index.js';
import { describeIfMariadb, describeIfPostgres, mariadbUrl, postgresUrl } from '../../support/servers.js';
import { sleep } from './runner-support.js';

const table = `dbop_timeout_zero_${process.pid}`;
// Held longer than MariaDB's smallest lock wait (1 s), so a zero mapped to "fail at once" would show.
const holdMs = 1500;

describeIfPostgres('timeouts of 0 (none) and the cap on PostgreSQL', () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: postgresUrl(), max: 4 });
    await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (id int PRIMARY KEY, v int NOT NULL)`);
    await pool.query(`INSERT INTO ${table} VALUES (1, 0) ON CONFLICT DO NOTHING`);
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.end();
  });

  it('0 turns lock_timeout and statement_timeout off for the step, and the outer values come back', async () => {
    const client = await pool.connect();
    try {
      await client.query("SET lock_timeout = '7s'");
      const session = pgSession(client);
      const runner = new DbOpRunner({ maxRetries: 0 });
      const seen = await runner.run(
        session,
        async (s) =>
          (
            await s.query(
              "SELECT current_setting('lock_timeout') AS l, current_setting('statement_timeout') AS s",
            )
          ).rows[0],
        { lockTimeoutMs: 0, statementTimeoutMs: 0 },
      );
      expect(seen).toEqual({ l: '0', s: '0' });
      expect((await client.query('SHOW lock_timeout')).rows[0]).toEqual({ lock_timeout: '7s' });
    } finally {
      client.release();
    }
  });

  it("with lockTimeoutMs 0 a step waits for a lock held 1.5 s, where the runner's default (1 ms here) fails at once", async () => {
    const holder = await pool.connect();
    const runner = new DbOpRunner({ maxRetries: 0, defaultLockTimeoutMs: 1 });
    try {
      await holder.query('BEGIN');
      await holder.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`);
      const step = runner.transaction(
        pgPoolSource(pool),
        (s) => s.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`),
        {
          lockTimeoutMs: 0,
        },
      );
      await sleep(holdMs);
      await holder.query('COMMIT');
      await step;
    } finally {
      holder.release();
    }
    // And the runner's own default (1 ms here) still fails fast, so the zero above really changed something.
    const again = await pool.connect();
    try {
      await again.query('BEGIN');
      await again.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`);
      await expect(
        runner.transaction(pgPoolSource(pool), (s) => s.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`)),
      ).rejects.toMatchObject({ code: '55P03' });
      await again.query('ROLLBACK');
    } finally {
      again.release();
    }
  });

  it('takes the cap (2^31 - 1 ms) as the server does, and refuses one more before any SQL', async () => {
    const client = await pool.connect();
    try {
      const runner = new DbOpRunner({ maxRetries: 0 });
      const session: Session = pgSession(client);
      const seen = await runner.run(
        session,
        async (s) =>
          (
            await s.query(
              "SELECT current_setting('lock_timeout') AS l, current_setting('statement_timeout') AS s",
            )
          ).rows[0],
        { lockTimeoutMs: maxTimeoutMs, statementTimeoutMs: maxTimeoutMs },
      );
      expect(seen).toEqual({ l: '2147483647ms', s: '2147483647ms' });
      for (const key of ['lockTimeoutMs', 'statementTimeoutMs'] as const) {
        await expect(runner.run(session, () => 1, { [key]: maxTimeoutMs + 1 })).rejects.toThrow(
          `Expected \`${key}\` to be an integer of milliseconds from 0 (no timeout) to 2147483647, got 2147483648`,
        );
      }
      // The server itself refuses the value dbop now refuses up front.
      await expect(client.query(`SET lock_timeout = ${maxTimeoutMs + 1}`)).rejects.toMatchObject({
        code: '22023',
      });
    } finally {
      client.release();
    }
  });
});

describeIfMariadb('timeouts of 0 (none) and the cap on MariaDB (mysql2, flavor from the handshake)', () => {
  let pool: mysql.Pool;
  beforeAll(async () => {
    pool = mysql.createPool({ uri: mariadbUrl(), connectionLimit: 4 });
    await pool.query(
      `CREATE TABLE IF NOT EXISTS ${table} (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB`,
    );
    await pool.query(`INSERT IGNORE INTO ${table} VALUES (1, 0)`);
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.end();
  });

  it('mysql2Session without a flavor knows it talks to MariaDB, with no extra round trip', async () => {
    const connection = await pool.getConnection();
    try {
      const queries: string[] = [];
      const spy = new Proxy(connection, {
        get(target, key, receiver) {
          if (key === 'query')
            return (sql: string, ...rest: unknown[]) => {
              queries.push(sql);
              return target.query(sql, ...(rest as []));
            };
          return Reflect.get(target, key, receiver);
        },
      });
      const session = mysql2Session(spy);
      expect(session.dialect).toBe('mariadb');
      expect(queries).toEqual([]);
      expect(mysql2Session(connection, { flavor: 'mysql' }).dialect).toBe('mysql');
    } finally {
      connection.release();
    }
  });

  it('0 means no lock wait limit (the largest innodb_lock_wait_timeout) and no max_statement_time', async () => {
    const connection = await pool.getConnection();
    try {
      await connection.query('SET SESSION innodb_lock_wait_timeout = 7');
      const runner = new DbOpRunner({ maxRetries: 0 });
      const seen = await runner.run(
        mysql2Session(connection),
        async (s) =>
          (await s.query('SELECT @@SESSION.innodb_lock_wait_timeout AS l, @@SESSION.max_statement_time AS s'))
            .rows[0],
        { lockTimeoutMs: 0, statementTimeoutMs: 0 },
      );
      expect({ l: Number((seen as { l: unknown }).l), s: Number((seen as { s: unknown }).s) }).toEqual({
        l: 100_000_000,
        s: 0,
      });
      const [rows] = await connection.query('SELECT @@SESSION.innodb_lock_wait_timeout AS l');
      expect(Number((rows as { l: unknown }[])[0]!.l)).toBe(7);
    } finally {
      connection.release();
    }
  });

  it('with lockTimeoutMs 0 a step outwaits a lock held past 1 s (innodb_lock_wait_timeout = 0 would fail at once)', async () => {
    const holder = await pool.getConnection();
    const worker = await pool.getConnection();
    try {
      const runner = new DbOpRunner({ maxRetries: 0 });
      await holder.query('START TRANSACTION');
      await holder.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`);
      const step = runner.run(
        mysql2Session(worker),
        (s) => s.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`),
        {
          lockTimeoutMs: 0,
        },
      );
      await sleep(holdMs);
      await holder.query('COMMIT');
      await step;
    } finally {
      holder.release();
      worker.release();
    }
  });

  it('takes the cap (2^31 - 1 ms) and MariaDB keeps it, rounded up to whole seconds for lock waits', async () => {
    const connection = await pool.getConnection();
    try {
      const runner = new DbOpRunner({ maxRetries: 0 });
      const seen = await runner.run(
        mysql2Session(connection),
        async (s) =>
          (await s.query('SELECT @@SESSION.innodb_lock_wait_timeout AS l, @@SESSION.max_statement_time AS s'))
            .rows[0],
        { lockTimeoutMs: maxTimeoutMs, statementTimeoutMs: maxTimeoutMs },
      );
      expect({ l: Number((seen as { l: unknown }).l), s: Number((seen as { s: unknown }).s) }).toEqual({
        l: 2_147_484,
        s: 2_147_483.647,
      });
      await expect(
        runner.run(mysql2Session(connection), () => 1, { statementTimeoutMs: 1e12 }),
      ).rejects.toThrow(
        'Expected `statementTimeoutMs` to be an integer of milliseconds from 0 (no timeout) to 2147483647',
      );
    } finally {
      connection.release();
    }
  });
});

describe('the issue: a zero lock timeout is no longer refused', () => {
  it('is accepted by the runner as a default too', () => {
    expect(() => new DbOpRunner({ defaultLockTimeoutMs: 0, defaultStatementTimeoutMs: 0 })).not.toThrow();
  });
});
