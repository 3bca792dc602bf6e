import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDatabase } from '../../../src/database/create-database.js';
import { describeIfMariadb, describeIfPostgres, mariadbUrl, postgresUrl } from '../../support/servers.js';

const table = `dbop_lock_wait_${process.pid}`;

describeIfPostgres(
  'lock waits under contention (Postgres finds deadlocks only after deadlock_timeout)',
  () => {
    let admin: pg.Client;
    let holder: pg.Client;
    beforeAll(async () => {
      admin = new pg.Client({ connectionString: postgresUrl() });
      holder = new pg.Client({ connectionString: postgresUrl() });
      await Promise.all([admin.connect(), holder.connect()]);
      await admin.query(`CREATE TABLE ${table} (id int PRIMARY KEY, n int NOT NULL)`);
      await admin.query(`INSERT INTO ${table} VALUES (1, 0)`);
    });
    afterAll(async () => {
      await holder.end();
      await admin.query(`DROP TABLE IF EXISTS ${table}`);
      await admin.end();
    });

    /** Runs one transaction whose first attempts meet a real 55P03; returns each attempt's lock_timeout. */
    async function lockTimeouts(options: { readonly lockTimeoutMs?: number } = {}): Promise<string[]> {
      const db = await createDatabase({ url: postgresUrl(), max: 2, maxRetries: 3, initialDelayMs: 1 });
      const seen: string[] = [];
      await holder.query('BEGIN');
      await holder.query(`SELECT n FROM ${table} WHERE id = 1 FOR UPDATE`);
      try {
        await db.transaction(async (conn, attempt) => {
          const { rows } = await conn.execute<{ lock_timeout: string }>('SHOW lock_timeout');
          seen.push(rows[0]!.lock_timeout);
          // The last attempt the count allows finds the row free; the others meet the holder's lock.
          if (attempt.attempt === 4) await holder.query('COMMIT');
          await conn.execute(`SELECT n FROM ${table} WHERE id = 1 FOR UPDATE NOWAIT`);
        }, options);
      } finally {
        await holder.query('ROLLBACK').catch(() => undefined);
        await db.close();
      }
      return seen;
    }

    it('after contention, attempts wait briefly for a row lock, twice as long on each retry, and the last attempt the full lock timeout', async () => {
      // No contention seen before the first attempt: the default 10 s; the limiter's suggestion (20 ms, no
      // commit measured yet) doubled per retry after it; the fourth and last attempt waits the full default.
      expect(await lockTimeouts()).toEqual(['10s', '40ms', '80ms', '10s']);
    }, 30_000);

    it('a lock timeout the call sets is kept on every attempt', async () => {
      expect(await lockTimeouts({ lockTimeoutMs: 3000 })).toEqual(['3s', '3s', '3s', '3s']);
    }, 30_000);
  },
);

describeIfMariadb('lock waits under contention (InnoDB finds deadlocks at once)', () => {
  it('keeps the configured lock wait on every attempt', async () => {
    const mysqlTable = `${table}_my`;
    const holder = await mysql.createConnection({ uri: mariadbUrl() });
    await holder.query(`CREATE TABLE ${mysqlTable} (id int PRIMARY KEY, n int NOT NULL) ENGINE=InnoDB`);
    await holder.query(`INSERT INTO ${mysqlTable} VALUES (1, 0)`);
    const db = await createDatabase({ url: mariadbUrl(), max: 2, maxRetries: 3, initialDelayMs: 1 });
    const seen: number[] = [];
    await holder.query('BEGIN');
    await holder.query(`SELECT n FROM ${mysqlTable} WHERE id = 1 FOR UPDATE`);
    try {
      await db.transaction(async (conn, attempt) => {
        const { rows } = await conn.execute<{ w: number }>('SELECT @@innodb_lock_wait_timeout AS w');
        seen.push(Number(rows[0]!.w));
        if (attempt.attempt === 4) await holder.query('COMMIT');
        // A real lock wait timeout from the server (NOWAIT: ER_LOCK_WAIT_TIMEOUT at once).
        await conn.execute(`SELECT n FROM ${mysqlTable} WHERE id = 1 FOR UPDATE NOWAIT`);
      });
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await db.close();
      await holder.query(`DROP TABLE IF EXISTS ${mysqlTable}`);
      await holder.end();
    }
    expect(seen).toEqual([10, 10, 10, 10]);
  }, 30_000);
});
