import mysql from 'mysql2/promise';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import { describeIfMariadb, mariadbUrl } from '../../support/servers.js';

const table = `dbop_killed_idle_${process.pid}`;

// A connection killed while idle inside the transaction died before COMMIT was sent: the server rolled the
// transaction back, so the outcome is known and transaction() simply runs it again on a new connection.
describeIfMariadb('a connection killed while idle in a transaction (MariaDB)', () => {
  let admin: mysql.Connection;
  let db: Database;
  beforeAll(async () => {
    admin = await mysql.createConnection(mariadbUrl());
    await admin.query(`CREATE TABLE ${table} (attempt INT) ENGINE=InnoDB`);
    db = await createDatabase({
      url: mariadbUrl().replace(/^mysql:/, 'mariadb:'),
      max: 2,
      maxRetries: 2,
      initialDelayMs: 1,
      maxDelayMs: 1,
    });
  });
  afterAll(async () => {
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.end();
    await db.close();
  });

  it('is a plain connection loss, not an ambiguous commit: redone once, written once', async () => {
    await db.transaction(async (conn, attempt) => {
      const { rows } = await conn.execute<{ id: number }>('SELECT CONNECTION_ID() AS id');
      await conn.execute(`INSERT INTO ${table} (attempt) VALUES (:a)`, { a: attempt.attempt });
      if (attempt.attempt === 1) {
        await admin.query(`KILL CONNECTION ${Number(rows[0]!.id)}`);
        await new Promise((r) => setTimeout(r, 100)); // the client sees the socket close
      }
    });
    const [rows] = await admin.query(`SELECT attempt FROM ${table}`);
    expect(rows).toEqual([{ attempt: 2 }]);
  });
});
