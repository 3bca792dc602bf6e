import mysql from 'mysql2/promise';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isAmbiguousCommitError } from '../../../src/core/errors.js';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import { describeIfMariadb, mariadbUrl } from '../../support/servers.js';

const t = `dbop_verified_${process.pid}`;

interface PoolConnection {
  readonly threadId: number;
  query(sql: string, values?: unknown): Promise<unknown>;
  readonly connection: { readonly stream: { destroy(): void } };
}

/**
 * Runs `onCommit` on the attempt's own connection as its COMMIT is sent: the COMMIT is written to the
 * server, then the test cuts the connection, so the driver never reads the answer (a real lost COMMIT).
 */
function interceptCommit(raw: unknown, onCommit: (connection: PoolConnection) => void): void {
  const connection = raw as PoolConnection;
  const original = connection.query.bind(connection);
  let done = false;
  (connection as { query: PoolConnection['query'] }).query = (sql: string, values?: unknown) => {
    const sent = original(sql, values);
    if (sql === 'COMMIT' && !done) {
      done = true;
      onCommit(connection);
      (connection as { query: PoolConnection['query'] }).query = original;
    }
    return sent;
  };
}

/**
 * Has the server kill the attempt's connection (KILL CONNECTION from another session) and then sends
 * COMMIT at once, before the driver has read that its connection is gone: the COMMIT's answer never comes.
 */
function killBeforeCommit(raw: unknown, admin: mysql.Connection): void {
  const connection = raw as PoolConnection;
  const original = connection.query.bind(connection);
  (connection as { query: PoolConnection['query'] }).query = async (sql: string, values?: unknown) => {
    if (sql !== 'COMMIT') return original(sql, values);
    (connection as { query: PoolConnection['query'] }).query = original;
    await admin.query(`KILL CONNECTION ${Number(connection.threadId)}`);
    return original(sql, values);
  };
}

describeIfMariadb('verifyCommits on MariaDB: a lost COMMIT is settled by its marker row', () => {
  let db: Database;
  let plain: Database;
  let admin: mysql.Connection;

  beforeAll(async () => {
    // max 1: the lookup after a lost COMMIT needs the slot of the connection that lost it.
    db = await createDatabase({ url: mariadbUrl(), max: 1, verifyCommits: true, initialDelayMs: 10 });
    plain = await createDatabase({ url: mariadbUrl(), max: 2, initialDelayMs: 10 });
    admin = await mysql.createConnection({ uri: mariadbUrl() });
    await admin.query(`DROP TABLE IF EXISTS ${t}`);
    await admin.query(`CREATE TABLE ${t} (id INT PRIMARY KEY, note VARCHAR(20)) ENGINE=InnoDB`);
  });
  afterAll(async () => {
    await admin?.query(`DROP TABLE IF EXISTS ${t}`);
    await admin?.end();
    await db?.close();
    await plain?.close();
  });

  it('connection cut right after COMMIT was sent: verified, not ambiguous, written exactly once', async () => {
    for (let id = 1; id <= 5; id += 1) {
      let attempts = 0;
      let lost = false;
      await db.transaction(async (conn) => {
        attempts += 1;
        await conn.execute(`INSERT INTO ${t} (id, note) VALUES (:id, 'cut')`, { id });
        if (attempts === 1) {
          interceptCommit(conn.session.raw, (connection) => {
            lost = true;
            connection.connection.stream.destroy();
          });
        }
      });
      expect(lost).toBe(true);
      const [rows] = await admin.query(`SELECT COUNT(*) AS c FROM ${t} WHERE id = ?`, [id]);
      expect(Number((rows as Array<{ c: number }>)[0]!.c)).toBe(1);
    }
  });

  it('connection killed by the server (KILL CONNECTION) just before COMMIT went out: written exactly once', async () => {
    for (let id = 11; id <= 15; id += 1) {
      let attempts = 0;
      await db.transaction(async (conn) => {
        attempts += 1;
        await conn.execute(`INSERT INTO ${t} (id, note) VALUES (:id, 'killed')`, { id });
        if (attempts === 1) {
          killBeforeCommit(conn.session.raw, admin);
        }
      });
      const [rows] = await admin.query(`SELECT COUNT(*) AS c FROM ${t} WHERE id = ?`, [id]);
      expect(Number((rows as Array<{ c: number }>)[0]!.c)).toBe(1);
    }
  });

  it('the mariadb connector too: KILL CONNECTION just before COMMIT, written exactly once', async () => {
    const viaMariadb = await createDatabase({
      url: mariadbUrl().replace(/^mysql:/, 'mariadb:'),
      max: 1,
      verifyCommits: true,
      initialDelayMs: 10,
    });
    try {
      for (let id = 31; id <= 35; id += 1) {
        let attempts = 0;
        await viaMariadb.transaction(async (conn) => {
          attempts += 1;
          await conn.execute(`INSERT INTO ${t} (id, note) VALUES (:id, 'mariadb')`, { id });
          if (attempts === 1) {
            killBeforeCommit(conn.session.raw, admin);
          }
        });
        const [rows] = await admin.query(`SELECT COUNT(*) AS c FROM ${t} WHERE id = ?`, [id]);
        expect(Number((rows as Array<{ c: number }>)[0]!.c)).toBe(1);
      }
    } finally {
      await viaMariadb.close();
    }
  });

  it('without verifyCommits the same cut is an AmbiguousCommitError (the default: no marker writes)', async () => {
    const error = await plain
      .transaction(async (conn) => {
        await conn.execute(`INSERT INTO ${t} (id, note) VALUES (21, 'plain')`);
        interceptCommit(conn.session.raw, (connection) => connection.connection.stream.destroy());
      })
      .catch((e: unknown) => e);
    expect(isAmbiguousCommitError(error)).toBe(true);
  });
});
