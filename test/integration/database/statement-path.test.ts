import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isAmbiguousCommitError } from '../../../src/core/errors.js';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import {
  describeIfMariadb,
  describeIfPostgres,
  mariadbUrl,
  postgresUrl,
  terminateBackend,
} from '../../support/servers.js';

const table = (name: string): string => `dbop_statement_${name}_${process.pid}`;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The texts one pg connection sends, counted where node-postgres sends them. */
function recordPgQueries(): { readonly sent: string[]; stop(): void } {
  const original = pg.Client.prototype.query;
  const sent: string[] = [];
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string }).text;
    sent.push(String(text));
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  return { sent, stop: () => (pg.Client.prototype.query = original) };
}

describeIfPostgres('db.query and transactions on PostgreSQL: what goes over the wire', () => {
  const t = table('pg');
  let db: Database;
  let admin: pg.Client;

  beforeAll(async () => {
    db = await createDatabase({ url: postgresUrl(), max: 1, initialDelayMs: 10 });
    admin = new pg.Client({ connectionString: postgresUrl() });
    await admin.connect();
    await admin.query(`DROP TABLE IF EXISTS ${t}`);
    await admin.query(`CREATE TABLE ${t} (id int PRIMARY KEY, n int NOT NULL)`);
    await admin.query(`INSERT INTO ${t} VALUES (1, 0)`);
  });
  afterAll(async () => {
    await admin?.query(`DROP TABLE IF EXISTS ${t}`);
    await admin?.end();
    await db?.close();
  });

  it('a statement is one round trip, the timeouts set once per connection', async () => {
    await db.query('SELECT 1');
    const recorder = recordPgQueries();
    try {
      await db.query('SELECT 1');
      await db.query(`UPDATE ${t} SET n = n + 1 WHERE id = $1`, [1]);
    } finally {
      recorder.stop();
    }
    expect(recorder.sent).toEqual(['SELECT 1', `UPDATE ${t} SET n = n + 1 WHERE id = $1`]);
  });

  it('a pooled connection is one session for its whole life, not a new one per call', async () => {
    // A session (and its wrappers) made per checkout outlived the young generation through the
    // Database's WeakMap and was promoted: concurrent db.query cost twice pg.Pool's CPU, most of it GC.
    const seen = new Set<unknown>();
    const raws = new Set<unknown>();
    for (let i = 0; i < 3; i++) {
      await db.run((conn) => {
        seen.add(conn.session);
        raws.add(conn.session.raw);
      });
    }
    // A failed autocommit statement leaves the session fit for the next call, still the same one.
    await expect(db.query('SELECT no_such_column_here')).rejects.toMatchObject({ code: '42703' });
    await db.transaction((conn) => {
      seen.add(conn.session);
      raws.add(conn.session.raw);
    });
    expect(await db.query('SELECT 1 AS one')).toMatchObject({ rows: [{ one: 1 }] });
    expect(raws.size).toBe(1);
    expect(seen.size).toBe(1);
  });

  it('a transaction that only reads assigns no transaction id (no xid burnt, no WAL)', async () => {
    const assigned = await db.transaction(async (conn) => {
      await conn.execute(`SELECT n FROM ${t} WHERE id = 1`);
      const { rows } = await conn.execute<{ xid: string | null }>('SELECT txid_current_if_assigned() AS xid');
      return rows[0]?.xid;
    });
    expect(assigned).toBeNull();
  });

  it('a write whose connection is lost mid-statement is ambiguous, unless the call is idempotent', async () => {
    const pids: number[] = [];
    const killer = async (): Promise<void> => {
      for (let i = 0; i < 200; i++) {
        const { rows } = await admin.query(
          `SELECT pid FROM pg_stat_activity WHERE query LIKE 'UPDATE ${t}%' AND wait_event = 'PgSleep'
             AND pid <> ALL($1::int[])`,
          [pids],
        );
        if (rows[0] !== undefined) {
          pids.push(rows[0].pid);
          return terminateBackend(postgresUrl(), rows[0].pid);
        }
        await sleep(20);
      }
    };
    const slowWrite = `UPDATE ${t} SET n = n + 1 WHERE id = 1 AND pg_sleep(3) IS NOT NULL`;
    const before = (await admin.query(`SELECT n FROM ${t} WHERE id = 1`)).rows[0].n as number;
    const [outcome] = await Promise.allSettled([db.query(slowWrite), killer()]);
    expect(outcome.status).toBe('rejected');
    expect(isAmbiguousCommitError((outcome as PromiseRejectedResult).reason)).toBe(true);
    expect(pids).toHaveLength(1);
    // An idempotent call is retried on a new connection and completes.
    const idempotent = db.query(`UPDATE ${t} SET n = 100 WHERE id = 1 AND pg_sleep(1) IS NOT NULL`, [], {
      idempotent: true,
    });
    await Promise.all([idempotent, killer()]);
    expect(pids).toHaveLength(2);
    const after = (await admin.query(`SELECT n FROM ${t} WHERE id = 1`)).rows[0].n as number;
    expect(after).toBe(100);
    expect(before).not.toBe(100);
  });

  it('a plain SELECT whose connection is lost is sent again; idempotent: false makes it ambiguous', async () => {
    const killed: number[] = [];
    const killSleeper = async (): Promise<void> => {
      for (let i = 0; i < 200; i++) {
        const { rows } = await admin.query(
          `SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT n, pg_sleep%' AND wait_event = 'PgSleep'
             AND pid <> ALL($1::int[])`,
          [killed],
        );
        if (rows[0] !== undefined) {
          killed.push(rows[0].pid);
          return terminateBackend(postgresUrl(), rows[0].pid);
        }
        await sleep(20);
      }
    };
    const read = `SELECT n, pg_sleep(1) FROM ${t} WHERE id = 1`;
    const [result] = await Promise.all([db.query<{ n: number }>(read), killSleeper()]);
    expect(killed).toHaveLength(1);
    expect(result.rows).toHaveLength(1);
    const [outcome] = await Promise.allSettled([db.query(read, [], { idempotent: false }), killSleeper()]);
    expect(killed).toHaveLength(2);
    expect(outcome.status).toBe('rejected');
    expect(isAmbiguousCommitError((outcome as PromiseRejectedResult).reason)).toBe(true);
  });
});

describeIfMariadb('db.query and transactions on MariaDB (mysql2, mariadb): what goes over the wire', () => {
  const t = table('my');
  let db: Database;
  // The same server through the mariadb connector (a mariadb: URL).
  let connectorDb: Database;
  let admin: mysql.Connection;

  /** Statements the pool's one connection ran between two reads of its own Questions counter. */
  async function questions(on: Database = db): Promise<number> {
    const { rows } = await on.query<{ Value: string }>("SHOW SESSION STATUS LIKE 'Questions'");
    return Number(rows[0]!.Value);
  }

  beforeAll(async () => {
    db = await createDatabase({ url: mariadbUrl(), max: 1 });
    connectorDb = await createDatabase({ url: mariadbUrl().replace(/^mysql:/, 'mariadb:'), max: 1 });
    admin = await mysql.createConnection({ uri: mariadbUrl() });
    await admin.query(`DROP TABLE IF EXISTS ${t}`);
    await admin.query(`CREATE TABLE ${t} (id INT PRIMARY KEY, n INT NOT NULL) ENGINE=InnoDB`);
    await admin.query(`INSERT INTO ${t} VALUES (1, 0)`);
  });
  afterAll(async () => {
    await admin?.query(`DROP TABLE IF EXISTS ${t}`);
    await admin?.end();
    await db?.close();
    await connectorDb?.close();
  });

  it('a statement is one statement; a transaction sets no timeouts once the connection has them', async () => {
    await db.transaction((conn) => conn.execute('SELECT 1'));
    const start = await questions();
    await db.query(`UPDATE ${t} SET n = n + 1 WHERE id = :id`, { id: 1 });
    // The SHOW that reads the counter counts itself: one UPDATE, one SHOW.
    expect((await questions()) - start).toBe(2);
    const before = await questions();
    await db.transaction((conn) => conn.execute(`UPDATE ${t} SET n = n + 1 WHERE id = 1`));
    // START TRANSACTION, the UPDATE, COMMIT, and the SHOW; no DO 0 probe: the SHOW's result set leaves the
    // flags of the UPDATE's OK packet standing (autocommit on, no transaction).
    expect((await questions()) - before).toBe(4);
    // After a COMMIT, whose OK packet said the connection is idle, the next transaction needs no probe;
    // neither does the first, after the SHOW.
    const twice = await questions();
    await db.transaction((conn) => conn.execute(`UPDATE ${t} SET n = n + 1 WHERE id = 1`));
    await db.transaction((conn) => conn.execute(`UPDATE ${t} SET n = n + 1 WHERE id = 1`));
    expect((await questions()) - twice).toBe(3 + 3 + 1);
    const { rows } = await db.query<{ lock: number }>('SELECT @@SESSION.innodb_lock_wait_timeout AS `lock`');
    expect(Number(rows[0]!.lock)).toBe(10);
  });

  it('mariadb connector: the timeouts are sent once per connection, not with every checkout', async () => {
    expect(connectorDb.url.startsWith('mariadb:')).toBe(true);
    await connectorDb.transaction((conn) => conn.execute('SELECT 1'));
    const start = await questions(connectorDb);
    await connectorDb.transaction((conn) => conn.execute(`UPDATE ${t} SET n = n + 1 WHERE id = 1`));
    await connectorDb.query(`UPDATE ${t} SET n = n + 1 WHERE id = 1`);
    // START TRANSACTION, the UPDATE, COMMIT; the lone UPDATE; the SHOW: no SET, no probe.
    expect((await questions(connectorDb)) - start).toBe(3 + 1 + 1);
    const { rows } = await connectorDb.query<{ lock: number }>(
      'SELECT @@SESSION.innodb_lock_wait_timeout AS `lock`',
    );
    expect(Number(rows[0]!.lock)).toBe(10);
  });

  it('acquire() runs with the server defaults, whatever the pooled connection had', async () => {
    await db.query('SELECT 1');
    const lock = await db.acquire(async (conn) => {
      const { rows } = await conn.execute<{ lock: number }>(
        'SELECT @@SESSION.innodb_lock_wait_timeout AS `lock`',
      );
      return Number(rows[0]!.lock);
    });
    const [global] = await admin.query('SELECT @@GLOBAL.innodb_lock_wait_timeout AS `lock`');
    expect(lock).toBe(Number((global as Array<{ lock: number }>)[0]!.lock));
  });
});
