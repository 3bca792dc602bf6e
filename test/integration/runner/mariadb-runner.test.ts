import * as mariadb from 'mariadb';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Session, SessionSource } from '../../../src/core/session.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { mariadbSession } from '../../../src/sessions/mariadb/index.js';
import { mysql2Session } from '../../../src/sessions/mysql2/index.js';
import { describeIfMariadb, mariadbUrl } from '../../support/servers.js';
import { barrier, recordingLogger } from './runner-support.js';

const table = `dbop_runner_maria_${process.pid}`;

describeIfMariadb('DbOpRunner on MariaDB (mysql2)', () => {
  let pool: mysql.Pool;
  let source: SessionSource<mysql.PoolConnection>;

  beforeAll(async () => {
    pool = mysql.createPool({ uri: mariadbUrl(), connectionLimit: 6 });
    source = {
      acquire: async () => mysql2Session(await pool.getConnection(), { flavor: 'mariadb', sidecar: pool }),
      release: async (s: Session<mysql.PoolConnection>) => (s.destroyed ? undefined : s.raw.release()),
    };
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB`);
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.end();
  });
  const value = async (id: number) => {
    const [rows] = await pool.query(`SELECT v FROM ${table} WHERE id = ?`, [id]);
    return Number((rows as { v: number }[])[0]?.v);
  };

  it('a deadlock (1213) inside runner.transaction restarts the whole transaction and the final state is exact', async () => {
    await pool.query(`DELETE FROM ${table}`);
    await pool.query(`INSERT INTO ${table} (id, v) VALUES (1, 0), (2, 0)`);
    const logger = recordingLogger();
    const runner = new DbOpRunner({ maxRetries: 5, initialDelayMs: 10, maxDelayMs: 50, logger });
    const meet = barrier(2);
    const transfer = (first: number, second: number) =>
      runner.transaction(
        source,
        async (s, attempt) => {
          await runner.run(s, (t) => t.query(`UPDATE ${table} SET v = v + 1 WHERE id = ?`, [first]), {
            name: 'first',
          });
          if (attempt.attempt === 1) await meet();
          await runner.run(s, (t) => t.query(`UPDATE ${table} SET v = v + 10 WHERE id = ?`, [second]), {
            name: 'second',
          });
        },
        { name: 'transfer' },
      );
    await Promise.all([transfer(1, 2), transfer(2, 1)]);
    // Exact: each transfer applied once (a replay of only the second step would give 21 or 12 somewhere).
    expect(await value(1)).toBe(11);
    expect(await value(2)).toBe(11);
    const deadlocks = logger.records.filter((r) => r.object.kind === 'deadlock');
    expect(
      deadlocks.some(
        (r) => r.message === 'transfer failed' && r.level === 'warn' && r.object.code === '1213',
      ),
    ).toBe(true);
    expect(deadlocks.every((r) => r.object.dialect === 'mariadb')).toBe(true);
  });

  it('a lock wait timeout (1205) inside an outer transaction retries in the savepoint; session settings come back', async () => {
    await pool.query(`DELETE FROM ${table}`);
    await pool.query(`INSERT INTO ${table} (id, v) VALUES (2, 0)`);
    const holder = await pool.getConnection();
    const connection = await pool.getConnection();
    try {
      await holder.query('START TRANSACTION');
      await holder.query(`SELECT * FROM ${table} WHERE id = 2 FOR UPDATE`);
      const logger = recordingLogger();
      const runner = new DbOpRunner({
        maxRetries: 5,
        initialDelayMs: 100,
        maxDelayMs: 200,
        jitter: 'none',
        logger,
      });
      const s = mysql2Session(connection, { flavor: 'mariadb', sidecar: pool });
      const [[before]] = (await connection.query(
        'SELECT @@SESSION.innodb_lock_wait_timeout AS l, @@SESSION.max_statement_time AS m',
      )) as unknown as [[unknown]];
      await s.begin();
      await s.query(`INSERT INTO ${table} (id, v) VALUES (10, 10)`);
      setTimeout(() => void holder.query('COMMIT'), 1500);
      await runner.run(s, (t) => t.query(`UPDATE ${table} SET v = 5 WHERE id = 2`), {
        name: 'bump',
        lockTimeoutMs: 50,
        statementTimeoutMs: 5000,
      });
      await s.commit();
      expect(
        logger.records.some(
          (r) => r.object.kind === 'lock-timeout' && r.object.code === '1205' && r.level === 'warn',
        ),
      ).toBe(true);
      expect(await value(10)).toBe(10);
      expect(await value(2)).toBe(5);
      const [[after]] = (await connection.query(
        'SELECT @@SESSION.innodb_lock_wait_timeout AS l, @@SESSION.max_statement_time AS m',
      )) as unknown as [[unknown]];
      expect(after).toEqual(before);
    } finally {
      holder.release();
      connection.release();
    }
  });

  it('a cleanup that fails after a failed step (1305) ends the call with the step error, never a retry on the destroyed session', async () => {
    const connection = await mysql.createConnection(mariadbUrl());
    try {
      const s = mysql2Session(connection, { flavor: 'mariadb' });
      const runner = new DbOpRunner({ maxRetries: 3, initialDelayMs: 1, jitter: 'none' });
      await s.begin();
      let attempts = 0;
      const error = await runner
        .run(
          s,
          async () => {
            attempts += 1;
            // The transaction ends behind the session's back, so ROLLBACK TO SAVEPOINT meets 1305.
            await connection.query('COMMIT');
            await connection.query('SELECT SLEEP(2)');
          },
          { statementTimeoutMs: 200 },
        )
        .catch((e: unknown) => e);
      expect((error as { errno?: unknown }).errno).toBe(1969);
      expect(attempts).toBe(1);
      expect(s.destroyed).toBe(true);
    } finally {
      connection.destroy();
    }
  });

  it('an attempt timeout kills the query on the server (KILL QUERY) and the connection stays usable', async () => {
    const connection = await pool.getConnection();
    try {
      const s = mysql2Session(connection, { flavor: 'mariadb', sidecar: pool });
      const runner = new DbOpRunner({ maxRetries: 0, defaultLockTimeoutMs: null });
      const started = Date.now();
      const error = await runner
        .run(s, (t) => t.query('SELECT SLEEP(10)'), { attemptTimeoutMs: 300 })
        .catch((e) => e);
      expect(error?.code).toBe('DBOP_ATTEMPT_TIMEOUT');
      // SLEEP(10) runs 10 s unless KILL QUERY ends it: 8 s still tells the two apart on a loaded machine.
      expect(Date.now() - started).toBeLessThan(8000);
      expect(s.destroyed).toBe(false);
      const [rows] = await connection.query(
        'SELECT @@in_transaction AS t, @@SESSION.max_statement_time AS m',
      );
      expect(rows).toEqual([{ t: 0, m: 0 }]);
    } finally {
      connection.release();
    }
  });

  it('the mariadb connector: a deadlock in a nested run() restarts runner.transaction; state exact', async () => {
    await pool.query(`DELETE FROM ${table}`);
    await pool.query(`INSERT INTO ${table} (id, v) VALUES (1, 0), (2, 0)`);
    const url = new URL(mariadbUrl());
    const connectorPool = mariadb.createPool({
      host: url.hostname,
      port: Number(url.port),
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      database: url.pathname.slice(1),
      connectionLimit: 4,
    });
    const connectorSource: SessionSource<mariadb.PoolConnection> = {
      acquire: async () => mariadbSession(await connectorPool.getConnection(), { sidecar: connectorPool }),
      release: async (s) => {
        if (!s.destroyed) await s.raw.release();
      },
    };
    try {
      const logger = recordingLogger();
      const runner = new DbOpRunner({ maxRetries: 5, initialDelayMs: 10, maxDelayMs: 50, logger });
      const meet = barrier(2);
      const transfer = (first: number, second: number) =>
        runner.transaction(
          connectorSource,
          async (s, attempt) => {
            await runner.run(s, (t) => t.query(`UPDATE ${table} SET v = v + 1 WHERE id = ?`, [first]));
            if (attempt.attempt === 1) await meet();
            await runner.run(s, (t) => t.query(`UPDATE ${table} SET v = v + 10 WHERE id = ?`, [second]), {
              name: 'second',
            });
          },
          { name: 'transfer' },
        );
      await Promise.all([transfer(1, 2), transfer(2, 1)]);
      expect(await value(1)).toBe(11);
      expect(await value(2)).toBe(11);
      const deadlocks = logger.records.filter((r) => r.object.kind === 'deadlock');
      expect(deadlocks.some((r) => r.message === 'second failed' && r.level === 'error')).toBe(true);
      expect(deadlocks.some((r) => r.message === 'transfer failed' && r.level === 'warn')).toBe(true);
    } finally {
      await connectorPool.end();
    }
  });
});
