import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { channelNames, type ErrorMessage } from '../../../src/core/diagnostics.js';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import {
  describeIfMariadb,
  describeIfPostgres,
  mariadbUrl,
  postgresUrl,
  terminateBackend,
} from '../../support/servers.js';

const table = (name: string): string => `dbop_facade_${name}_${process.pid}`;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describeIfPostgres('createDatabase on PostgreSQL (pg)', () => {
  const t = table('pg');
  let db: Database;
  let other: pg.Client;

  beforeAll(async () => {
    db = await createDatabase({ url: postgresUrl(), max: 4 });
    other = new pg.Client({ connectionString: postgresUrl() });
    await other.connect();
    await db.query(`DROP TABLE IF EXISTS ${t}`);
    await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, v int NOT NULL, note text)`);
    await db.query(`INSERT INTO ${t} SELECT g, 0, NULL FROM generate_series(1, 1000) AS g`);
  });
  afterAll(async () => {
    await db.query(`DROP TABLE IF EXISTS ${t}`);
    await db.close();
    await other.end();
  });

  it('named parameters survive casts, strings, comments and dollar quotes on the real server', async () => {
    const { rows } = await db.query(
      `SELECT :n::int * 2 AS doubled, ':n' AS literal, $q$ :n $q$ AS quoted /* :n */, :n::text || 'x' AS again -- :n
       `,
      { n: '21' },
    );
    expect(rows).toEqual([{ doubled: 42, literal: ':n', quoted: ' :n ', again: '21x' }]);
  });

  it('stream() reads 1000 rows through a server-side cursor inside acquire()', async () => {
    let count = 0;
    let last = 0;
    await db.acquire(async (conn) => {
      for await (const row of conn.stream<{ id: number }>(
        `SELECT id FROM ${t} WHERE id >= :from ORDER BY id`,
        { from: 1 },
      )) {
        count += 1;
        last = row.id;
      }
    });
    expect([count, last]).toEqual([1000, 1000]);
  });

  it('deadlockRetryExecute() re-runs a statement that hit lock_timeout (55P03) inside a SAVEPOINT', async () => {
    await other.query('BEGIN');
    await other.query(`UPDATE ${t} SET v = v + 1 WHERE id = 1`);
    const release = sleep(250).then(() => other.query('COMMIT'));
    const before = db.stats().errors.byCode['postgres:55P03'] ?? 0;
    await db.acquire(async (conn) => {
      await conn.execute(`UPDATE ${t} SET note = :note WHERE id = 2`, { note: 'kept across the retries' });
      await conn.execute("SET LOCAL lock_timeout = '100ms'");
      await conn.deadlockRetryExecute(`UPDATE ${t} SET v = v + 10 WHERE id = 1`, {}, { maxAttempts: 10 });
    });
    await release;
    expect(db.stats().errors.byCode['postgres:55P03'] ?? 0).toBeGreaterThan(before);
    const { rows } = await db.query(`SELECT id, v, note FROM ${t} WHERE id IN (1, 2) ORDER BY id`);
    expect(rows).toEqual([
      { id: 1, v: 11, note: null },
      { id: 2, v: 0, note: 'kept across the retries' },
    ]);
  });

  it('run() redoes a step whose connection was killed mid-step, on a fresh connection', async () => {
    const before = db.stats().errors.total;
    const pids: number[] = [];
    const last = await db.run(async (conn, attempt) => {
      const pid = (await conn.execute<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      pids.push(pid);
      if (attempt.attempt === 1) await terminateBackend(postgresUrl(), pid);
      await conn.execute(`UPDATE ${t} SET note = :note WHERE id = 3`, { note: `attempt ${attempt.attempt}` });
      return attempt.attempt;
    });
    expect(last).toBe(2);
    expect(pids[1]).not.toBe(pids[0]);
    expect(db.stats().errors.total).toBe(before + 1);
    const { rows } = await db.query(`SELECT note FROM ${t} WHERE id = 3`);
    expect(rows).toEqual([{ note: 'attempt 2' }]);
  });

  it('acquire() errors are counted and published on dbop:error', async () => {
    const seen: ErrorMessage[] = [];
    const listener = (message: unknown): void => {
      seen.push(message as ErrorMessage);
    };
    subscribe(channelNames.error, listener);
    try {
      await expect(
        db.acquire((conn) => conn.execute(`INSERT INTO ${t} (id, v) VALUES (:id, 0)`, { id: 1 })),
      ).rejects.toMatchObject({
        code: '23505',
      });
    } finally {
      unsubscribe(channelNames.error, listener);
    }
    expect(seen.map((m) => [m.name, m.classification?.kind, m.classification?.code])).toEqual([
      ['acquire', 'constraint', '23505'],
    ]);
    expect(db.stats().errors.byCode['postgres:23505']).toBe(1);
  });
});

for (const scheme of ['mysql', 'mariadb'] as const) {
  describeIfMariadb(`createDatabase on MariaDB (${scheme === 'mysql' ? 'mysql2' : 'mariadb'} driver)`, () => {
    const t = table(scheme);
    let db: Database;
    let other: mysql.Connection;

    beforeAll(async () => {
      db = await createDatabase({ url: mariadbUrl().replace(/^mysql:/, `${scheme}:`), max: 4 });
      other = await mysql.createConnection({ uri: mariadbUrl() });
      await db.query(`DROP TABLE IF EXISTS ${t}`);
      await db.query(`CREATE TABLE ${t} (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB`);
      await db.acquire(async (conn) => {
        for (let id = 1; id <= 300; id += 1)
          await conn.execute(`INSERT INTO ${t} (id, v) VALUES (:id, 0)`, { id });
      });
    });
    afterAll(async () => {
      await db.query(`DROP TABLE IF EXISTS ${t}`);
      await db.close();
      await other.end();
    });

    it('knows the server is MariaDB, whatever the scheme', async () => {
      await db.query('SELECT 1');
      expect(db.backend).toBe('mariadb');
      const { pool } = db.stats();
      expect(pool.inUse).toBe(0);
      expect(pool.total).toBeGreaterThanOrEqual(1);
      expect(pool.idle).toBeGreaterThanOrEqual(1);
    });

    it('named parameters survive strings with backslash escapes and # comments', async () => {
      const { rows } = await db.query(
        `SELECT :a AS a, 'x\\' :a' AS s, \`id\` FROM ${t} WHERE id = :id # :id\n`,
        { a: 'A', id: 3 },
      );
      expect(rows).toEqual([{ a: 'A', s: "x' :a", id: 3 }]);
    });

    it("stream() yields rows from the driver's own stream", async () => {
      let count = 0;
      await db.acquire(async (conn) => {
        for await (const _row of conn.stream(`SELECT id FROM ${t} WHERE id > :min`, { min: 0 })) count += 1;
      });
      expect(count).toBe(300);
    });

    it('deadlockRetryExecute() restarts the transaction when its first statement is the deadlock victim (1213)', async () => {
      // The other transaction has modified many rows, so InnoDB picks ours (one row) as the victim.
      await other.query('BEGIN');
      await other.query(`UPDATE ${t} SET v = v + 1 WHERE id = 1 OR id >= 10`);
      const before = db.stats().errors.byCode['mariadb:1213'] ?? 0;
      const ours = db.acquire((conn) =>
        // Locks row 2, then waits for row 1 held by the other transaction.
        conn.deadlockRetryExecute(
          `UPDATE ${t} SET v = v + 100 WHERE id IN (1, 2) ORDER BY id DESC`,
          {},
          { maxAttempts: 3, delayMs: 50 },
        ),
      );
      await sleep(200);
      // Now the other transaction wants row 2: a cycle, and InnoDB rolls ours back.
      await other.query(`UPDATE ${t} SET v = v + 1 WHERE id = 2`);
      await other.query('COMMIT');
      await ours;
      expect(db.stats().errors.byCode['mariadb:1213'] ?? 0).toBe(before + 1);
      const { rows } = await db.query(`SELECT id, v FROM ${t} WHERE id IN (1, 2) ORDER BY id`);
      expect(rows).toEqual([
        { id: 1, v: 101 },
        { id: 2, v: 101 },
      ]);
    });

    it('acquire() rolls back on throw', async () => {
      await expect(
        db.acquire(async (conn) => {
          await conn.execute(`DELETE FROM ${t}`);
          throw new Error('undo');
        }),
      ).rejects.toThrow('undo');
      expect(
        (await db.query<{ n: unknown }>(`SELECT COUNT(*) AS n FROM ${t}`)).rows.map((r) => Number(r.n)),
      ).toEqual([300]);
    });
  });
}
