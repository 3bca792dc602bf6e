import * as mariadb from 'mariadb';
import mysql from 'mysql2/promise';
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DbOpRunner } from '../../../src/runner/index.js';
import { mariadbSession } from '../../../src/sessions/mariadb/index.js';
import { mysql2Session } from '../../../src/sessions/mysql2/index.js';
import { postgresJsSession } from '../../../src/sessions/postgres-js/index.js';
import { describeIfMariadb, describeIfPostgres, mariadbUrl, postgresUrl } from '../../support/servers.js';

// R1 with drivers that keep no transaction status: the caller began the transaction with the driver itself,
// so the session must ask the server; sending BEGIN would commit (MySQL) or later COMMIT (Postgres) it.
const table = `dbop_outer_${process.pid}`;

describeIfMariadb('R1 on mysql2: a transaction the caller began with the driver stays theirs', () => {
  let connection: mysql.Connection;

  beforeAll(async () => {
    connection = await mysql.createConnection(mariadbUrl());
    await connection.query(`DROP TABLE IF EXISTS ${table}`);
    await connection.query(`CREATE TABLE ${table} (id INT PRIMARY KEY) ENGINE=InnoDB`);
  });
  afterAll(async () => {
    await connection.query(`DROP TABLE IF EXISTS ${table}`);
    await connection.end();
  });

  it('run() uses a savepoint inside it; the caller rollback undoes the step too', async () => {
    await connection.query(`DELETE FROM ${table}`);
    await connection.query('START TRANSACTION');
    await connection.query(`INSERT INTO ${table} VALUES (1)`);
    const session = mysql2Session(connection, { flavor: 'mariadb' });
    await new DbOpRunner().run(session, (s) => s.query(`INSERT INTO ${table} VALUES (2)`));
    const [[state]] = (await connection.query('SELECT @@in_transaction AS t')) as unknown as [
      [{ t: number }],
    ];
    expect(state.t).toBe(1);
    await connection.query('ROLLBACK');
    const [rows] = await connection.query(`SELECT id FROM ${table}`);
    expect(rows).toEqual([]);
  });

  it('transaction() refuses a session whose caller already began one with the driver', async () => {
    await connection.query('START TRANSACTION');
    try {
      const session = mysql2Session(connection, { flavor: 'mariadb' });
      await expect(new DbOpRunner().transaction(session, () => 1)).rejects.toMatchObject({
        code: 'DBOP_TRANSACTION_OPEN',
      });
    } finally {
      await connection.query('ROLLBACK');
    }
  });

  it('the mariadb connector reads the status flags itself: run() nests without asking', async () => {
    await connection.query(`DELETE FROM ${table}`);
    const url = new URL(mariadbUrl());
    const own = await mariadb.createConnection({
      host: url.hostname,
      port: Number(url.port),
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      database: url.pathname.slice(1),
    });
    try {
      await own.query('START TRANSACTION');
      await own.query(`INSERT INTO ${table} VALUES (1)`);
      const session = mariadbSession(own);
      expect(session.probeTransaction?.()).toBe(true);
      await new DbOpRunner().run(session, (s) => s.query(`INSERT INTO ${table} VALUES (2)`));
      await own.query('ROLLBACK');
    } finally {
      await own.end();
    }
    const [rows] = await connection.query(`SELECT id FROM ${table}`);
    expect(rows).toEqual([]);
  });

  it('with no transaction open, run() still opens and commits its own', async () => {
    await connection.query(`DELETE FROM ${table}`);
    const session = mysql2Session(connection, { flavor: 'mariadb' });
    await new DbOpRunner().run(session, (s) => s.query(`INSERT INTO ${table} VALUES (3)`));
    const [rows] = await connection.query(`SELECT id FROM ${table}`);
    expect(rows).toEqual([{ id: 3 }]);
    const [[state]] = (await connection.query('SELECT @@in_transaction AS t')) as unknown as [
      [{ t: number }],
    ];
    expect(state.t).toBe(0);
  });
});

describeIfPostgres('R1 on postgres.js: a transaction the caller began with the driver stays theirs', () => {
  let sql: postgres.Sql;

  beforeAll(async () => {
    sql = postgres(postgresUrl(), { max: 2, onnotice: () => undefined });
    await sql.unsafe(`DROP TABLE IF EXISTS ${table}`);
    await sql.unsafe(`CREATE TABLE ${table} (id INT PRIMARY KEY)`);
  });
  afterAll(async () => {
    await sql.unsafe(`DROP TABLE IF EXISTS ${table}`);
    await sql.end();
  });

  it('run() uses a savepoint inside it; the caller rollback undoes the step too', async () => {
    await sql.unsafe(`DELETE FROM ${table}`);
    const reserved = await sql.reserve();
    try {
      await reserved.unsafe('BEGIN');
      await reserved.unsafe(`INSERT INTO ${table} VALUES (1)`);
      const session = postgresJsSession(reserved, { sidecar: sql });
      await new DbOpRunner().run(session, (s) => s.query(`INSERT INTO ${table} VALUES (2)`));
      await reserved.unsafe('ROLLBACK');
    } finally {
      reserved.release();
    }
    expect(await sql.unsafe(`SELECT id FROM ${table}`)).toEqual([]);
  });

  it('the probe tells an open block, an aborted one and none apart', async () => {
    const reserved = await sql.reserve();
    try {
      const session = postgresJsSession(reserved);
      expect(await session.probeTransaction?.()).toBe(false);
      await reserved.unsafe('BEGIN');
      expect(await session.probeTransaction?.()).toBe(true);
      await reserved.unsafe('SELECT 1/0').catch(() => undefined);
      expect(await session.probeTransaction?.()).toBe(true);
      await reserved.unsafe('ROLLBACK');
      expect(await session.probeTransaction?.()).toBe(false);
      // A top-level step after the caller's transaction ended owns (and commits) its own again.
      await new DbOpRunner().run(session, (s) => s.query(`INSERT INTO ${table} VALUES (5)`));
    } finally {
      reserved.release();
    }
    expect(await sql.unsafe(`SELECT id FROM ${table} WHERE id = 5`)).toEqual([{ id: 5 }]);
  });
});
