import mysql from 'mysql2/promise';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import { describeIfMariadb, mariadbUrl } from '../../support/servers.js';

const table = `dbop_acq_restart_${process.pid}`;

// deadlockRetryExecute may restart acquire()'s transaction only while nothing else ran in it. Work done
// through conn.session (the documented way to what execute() does not cover) counts too.
describeIfMariadb('acquire(): deadlockRetryExecute after other work in the transaction (MariaDB)', () => {
  let db: Database;
  let other: mysql.Connection;
  beforeAll(async () => {
    db = await createDatabase({ url: mariadbUrl().replace(/^mysql:/, 'mariadb:'), max: 2 });
    other = await mysql.createConnection(mariadbUrl());
    await other.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, n INT) ENGINE=InnoDB`);
    await other.query(`CREATE TABLE ${table}_audit (note VARCHAR(40)) ENGINE=InnoDB`);
    await other.query(`CREATE TABLE ${table}_pad (n INT) ENGINE=InnoDB`);
    await other.query(`INSERT INTO ${table} VALUES (1, 0), (2, 0)`);
  });
  afterAll(async () => {
    await other.query(`DROP TABLE IF EXISTS ${table}, ${table}_audit, ${table}_pad`);
    await other.end();
    await db.close();
  });

  it('hands the deadlock to acquire() instead of restarting and silently losing the earlier writes', async () => {
    const outcome = await db
      .acquire(async (conn) => {
        await conn.session.query(`INSERT INTO ${table}_audit VALUES ('earlier work')`);
        await conn.session.query(`UPDATE ${table} SET n = n + 1 WHERE id = 1`);
        // The other transaction changes many rows, so InnoDB picks ours as the deadlock victim.
        await other.query('START TRANSACTION');
        await other.query(`INSERT INTO ${table}_pad SELECT seq FROM seq_1_to_500`);
        await other.query(`UPDATE ${table} SET n = n + 10 WHERE id = 2`);
        const blocked = other.query(`UPDATE ${table} SET n = n + 10 WHERE id = 1`);
        await new Promise((r) => setTimeout(r, 200));
        try {
          await conn.deadlockRetryExecute(
            `UPDATE ${table} SET n = n + 1 WHERE id = 2`,
            {},
            { maxAttempts: 3 },
          );
        } finally {
          await blocked;
          await other.query('ROLLBACK');
        }
      })
      .then(
        () => 'resolved',
        (error: { errno?: number }) => error.errno,
      );
    expect(outcome).toBe(1213);
    const [audit] = await other.query(`SELECT note FROM ${table}_audit`);
    expect(audit).toEqual([]);
  });
});
