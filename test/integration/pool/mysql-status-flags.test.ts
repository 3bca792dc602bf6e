import mysql from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import { type Mysql2FactoryConnection, mysql2Factory } from '../../../src/pool/factories/mysql2-factory.js';
import { createPool, type Pool } from '../../../src/pool/pool.js';
import { describeIfMariadb, mariadbUrl } from '../../support/servers.js';
import { connectionSettings } from './pool-support.js';

// The transaction state of a released connection comes from the server's status flags (the last OK packet,
// carried over result sets and errors while autocommit is on); a DO 0 probe only where they are unknown.
describeIfMariadb('status flags instead of a probe per release (MariaDB)', () => {
  const table = 'dbop_status_flags';
  const pools: Pool<Mysql2FactoryConnection>[] = [];
  let admin: mysql.Connection;
  beforeAll(async () => {
    admin = await mysql.createConnection(connectionSettings(mariadbUrl()));
    await admin.query(`CREATE TABLE IF NOT EXISTS ${table} (id INT PRIMARY KEY) ENGINE=InnoDB`);
  });
  afterAll(async () => {
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.end();
  });
  const dbs: Database[] = [];
  afterEach(async () => {
    await Promise.all([...pools.splice(0).map((p) => p.close()), ...dbs.splice(0).map((db) => db.close())]);
  });
  const pool = (): Pool<Mysql2FactoryConnection> => {
    const p = createPool(mysql2Factory(connectionSettings(mariadbUrl()), { driver: mysql }), {
      max: 1,
      name: 'status-flags',
    });
    pools.push(p);
    return p;
  };
  const first = async (c: Mysql2FactoryConnection, sql: string): Promise<number> => {
    const [rows] = (await c.query(sql)) as [Array<Record<string, unknown>>, unknown];
    return Number(Object.values(rows[0]!)[0]);
  };
  // Statements this connection sent, this SHOW included.
  const questions = async (c: Mysql2FactoryConnection): Promise<number> => {
    const [rows] = (await c.query("SHOW SESSION STATUS LIKE 'Questions'")) as [
      Array<{ Value: string }>,
      unknown,
    ];
    return Number(rows[0]!.Value);
  };

  it('mysql2Factory: a connection given back after a SELECT or a failed statement is reused without DO 0', async () => {
    const p = pool();
    const c = await p.acquire();
    const id = await first(c, 'SELECT CONNECTION_ID()');
    const before = await questions(c);
    await c.query('SELECT 1');
    p.release(c);
    const again = await p.acquire();
    await again.query('SELECT * FROM no_such_table_dbop').catch(() => undefined);
    p.release(again);
    const third = await p.acquire();
    try {
      // SELECT 1, the failed SELECT, this SHOW: no probe in between.
      expect((await questions(third)) - before).toBe(3);
      expect(await first(third, 'SELECT CONNECTION_ID()')).toBe(id);
    } finally {
      p.release(third);
    }
  });

  for (const [how, open] of [
    ['START TRANSACTION, then a SELECT', (c: Mysql2FactoryConnection) => c.query('START TRANSACTION')],
    [
      "beginTransaction() (mysql2's own)",
      (c: Mysql2FactoryConnection) =>
        (c as unknown as { beginTransaction(): Promise<void> }).beginTransaction(),
    ],
    [
      'autocommit off, then a SELECT (flags unknown: DO 0 says)',
      (c: Mysql2FactoryConnection) => c.query('SET autocommit = 0'),
    ],
  ] as const) {
    it(`mysql2Factory: ${how}: destroyed on release, never lent again`, async () => {
      const p = pool();
      const c = await p.acquire();
      const id = await first(c, 'SELECT CONNECTION_ID()');
      await open(c);
      await c.query(`SELECT * FROM ${table}`);
      p.release(c);
      const next = await p.acquire();
      try {
        expect(await first(next, 'SELECT CONNECTION_ID()')).not.toBe(id);
        expect(await first(next, 'SELECT @@in_transaction')).toBe(0);
      } finally {
        p.release(next);
      }
    });
  }

  for (const scheme of ['mysql', 'mariadb']) {
    it(`${scheme}://: a failed statement outside a transaction keeps its connection`, async () => {
      const url = mariadbUrl().replace(/^[a-z]+:/, `${scheme}:`);
      const db = await createDatabase({ url, max: 1, maxRetries: 0 });
      dbs.push(db);
      const id = async () =>
        Number((await db.query<{ id: unknown }>('SELECT CONNECTION_ID() AS id')).rows[0]!.id);
      const start = await id();
      await expect(db.query('SELECT * FROM no_such_table_dbop')).rejects.toThrow();
      expect(await id()).toBe(start);
      expect(db.stats().pool).toMatchObject({ total: 1 });
    });
  }
});
