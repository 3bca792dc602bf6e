import * as mariadb from 'mariadb';
import mysql from 'mysql2/promise';
import { expect, it } from 'vitest';
import { mariadbSession } from '../../../src/sessions/mariadb/mariadb-session.js';
import { mysql2Session } from '../../../src/sessions/mysql2/mysql2-session.js';
import { describeIfMariadb, mariadbUrl } from '../../support/servers.js';

interface Listening {
  listeners(event: 'error'): readonly unknown[];
}

describeIfMariadb(
  "one 'error' listener per pooled MySQL-family connection, however often it is checked out",
  () => {
    it('mariadb: a new wrapper per checkout does not add a listener each time', async () => {
      const url = new URL(mariadbUrl());
      const pool = mariadb.createPool({
        host: url.hostname,
        port: Number(url.port),
        user: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
        database: url.pathname.slice(1),
        connectionLimit: 1,
      });
      try {
        for (let i = 0; i < 50; i++) {
          const connection = await pool.getConnection();
          const session = mariadbSession(connection);
          await session.query('SELECT 1');
          await connection.release();
        }
        const connection = await pool.getConnection();
        const count = (connection as unknown as Listening).listeners('error').length;
        await connection.release();
        // The connector's own listeners plus dbop's one: never one per checkout.
        expect(count).toBeLessThan(5);
      } finally {
        await pool.end();
      }
    });

    it('mysql2: a new promise wrapper per checkout does not add a listener to the connection each time', async () => {
      const pool = mysql.createPool({ uri: mariadbUrl(), connectionLimit: 1 });
      try {
        for (let i = 0; i < 50; i++) {
          const connection = await pool.getConnection();
          const session = mysql2Session(connection);
          await session.query('SELECT 1');
          connection.release();
        }
        const connection = await pool.getConnection();
        // Counted on the core connection: mysql2/promise wraps it anew per checkout, so the wrapper's own
        // listeners say nothing (they hid a listener added per checkout).
        const core = (connection as unknown as { connection: Listening }).connection;
        const count = core.listeners('error').length;
        connection.release();
        expect(count).toBeLessThan(5);
      } finally {
        await pool.end();
      }
    });
  },
);
