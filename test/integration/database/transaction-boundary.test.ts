import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isDbopError } from '../../../src/core/errors.js';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import { DbOpRunner } from '../../../src/runner/dbop-runner.js';
import { pgPoolSource } from '../../../src/sessions/pg/pg-pool-source.js';
import { describeIfMariadb, describeIfPostgres, mariadbUrl, postgresUrl } from '../../support/servers.js';

// A unit body that ends dbop's transaction itself must fail with DBOP_TRANSACTION_BOUNDARY, never have its
// committed work run again by a retry, nor go on in autocommit; the pool's next unit must work.

const table = `dbop_boundary_${process.pid}`;

/** What each backend reports for a conflict that dbop retries. */
const retryable = {
  postgres: () => Object.assign(new Error('could not serialize access'), { code: '40001' }),
  mariadb: () =>
    Object.assign(new Error('Deadlock found when trying to get lock'), {
      errno: 1213,
      code: 'ER_LOCK_DEADLOCK',
      sqlState: '40001',
    }),
  sqlite: () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }),
};

function boundaryCases(backend: keyof typeof retryable, url: () => string): void {
  let db: Database;
  const n = async (): Promise<number> => Number((await db.query(`SELECT n FROM ${table}`)).rows[0]?.n);

  beforeAll(async () => {
    db = await createDatabase({ url: url(), max: 2, maxRetries: 3, initialDelayMs: 1 });
    await db.query(`DROP TABLE IF EXISTS ${table}`);
    await db.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, n INT NOT NULL)`);
  });
  beforeEach(async () => {
    await db.query(`DELETE FROM ${table}`);
    await db.query(`INSERT INTO ${table} VALUES (1, 0)`);
  });
  afterAll(async () => {
    await db?.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await db?.close();
  });

  it('COMMIT in the body, then a retryable error: not retried, the committed work done once', async () => {
    let tries = 0;
    const unit = db.transaction(async (conn) => {
      tries += 1;
      await conn.execute(`UPDATE ${table} SET n = n + 1 WHERE id = 1`);
      // The body ignores what its COMMIT met and throws a conflict dbop would retry.
      await conn.execute('COMMIT').catch(() => undefined);
      throw retryable[backend]();
    });
    const error = await unit.catch((e: unknown) => e);
    expect({ tries, n: await n() }).toEqual({ tries: 1, n: 1 });
    expect(isDbopError(error, 'DBOP_TRANSACTION_BOUNDARY')).toBe(true);
    expect((error as Error).message).toMatch(/ended the transaction dbop began.*acquire\(\)/);
  });

  it('COMMIT in the body that returns: the call fails, its later statements never ran', async () => {
    const error = await db
      .transaction(async (conn) => {
        await conn.execute(`UPDATE ${table} SET n = n + 1 WHERE id = 1`);
        await conn.execute('COMMIT');
        await conn.execute(`UPDATE ${table} SET n = n + 10 WHERE id = 1`);
        return 'ok';
      })
      .catch((e: unknown) => e);
    expect(await n()).toBe(1);
    expect(isDbopError(error, 'DBOP_TRANSACTION_BOUNDARY')).toBe(true);
  });

  it('ROLLBACK in the body, then more writes: the call fails, nothing runs in autocommit', async () => {
    const error = await db
      .transaction(async (conn) => {
        await conn.execute(`UPDATE ${table} SET n = 100 WHERE id = 1`);
        await conn.execute('ROLLBACK').catch(() => undefined);
        await conn.execute(`UPDATE ${table} SET n = n + 1 WHERE id = 1`);
        return 'ok';
      })
      .catch((e: unknown) => e);
    expect(await n()).toBe(0);
    expect(isDbopError(error, 'DBOP_TRANSACTION_BOUNDARY')).toBe(true);
  });

  // The driver's status after COMMIT AND CHAIN (or a COMMIT and a BEGIN in one string) is "in a
  // transaction" again: only the statement tells that dbop's transaction ended. SQLite has neither.
  it.skipIf(backend === 'sqlite')(
    'COMMIT AND CHAIN in the body: refused unsent, so a retry after it never runs committed work again',
    async () => {
      let tries = 0;
      const swallowed = await db
        .transaction(async (conn) => {
          tries += 1;
          await conn.execute(`UPDATE ${table} SET n = n + 1 WHERE id = 1`);
          await conn.execute('COMMIT AND CHAIN').catch(() => undefined);
          throw retryable[backend]();
        })
        .catch((e: unknown) => e);
      expect({ tries, n: await n() }).toEqual({ tries: 4, n: 0 });
      expect(swallowed).toMatchObject({ message: retryable[backend]().message });
      const error = await db
        .transaction(async (conn) => {
          await conn.execute(`UPDATE ${table} SET n = n + 1 WHERE id = 1`);
          await conn.execute('COMMIT AND CHAIN');
        })
        .catch((e: unknown) => e);
      expect(await n()).toBe(0);
      expect(isDbopError(error, 'DBOP_TRANSACTION_BOUNDARY')).toBe(true);
    },
  );

  it.skipIf(backend !== 'postgres')('COMMIT; BEGIN in one string: refused unsent, rolled back', async () => {
    const error = await db
      .transaction(async (conn) => {
        await conn.execute(`UPDATE ${table} SET n = n + 1 WHERE id = 1`);
        await conn.execute('COMMIT; BEGIN');
      })
      .catch((e: unknown) => e);
    expect(await n()).toBe(0);
    expect(isDbopError(error, 'DBOP_TRANSACTION_BOUNDARY')).toBe(true);
  });

  it('the next units on the pool work', async () => {
    await db.transaction((conn) => conn.execute('ROLLBACK')).catch(() => undefined);
    await db.transaction((conn) => conn.execute('COMMIT')).catch(() => undefined);
    for (let i = 0; i < 3; i += 1) {
      await db.transaction((conn) => conn.execute(`UPDATE ${table} SET n = n + 1 WHERE id = 1`));
    }
    expect(await n()).toBe(3);
  });

  // acquire() is the manual way: its own COMMIT is not sent when the body's ended the transaction.
  it('acquire() still lets its body end the transaction', async () => {
    await db.acquire(async (conn) => {
      await conn.execute(`UPDATE ${table} SET n = n + 1 WHERE id = 1`);
      await conn.execute('COMMIT');
    });
    expect(await n()).toBe(1);
  });
}

describeIfPostgres('a unit that ends its own transaction on PostgreSQL', () => {
  boundaryCases('postgres', postgresUrl);

  it('runner.transaction(pgPoolSource(pool)): COMMIT then 40001 is not retried', async () => {
    const pool = new pg.Pool({ connectionString: postgresUrl(), max: 1 });
    const t = `${table}_runner`;
    try {
      await pool.query(`CREATE TABLE ${t} (id INT PRIMARY KEY, n INT NOT NULL)`);
      await pool.query(`INSERT INTO ${t} VALUES (1, 0)`);
      const runner = new DbOpRunner({ maxRetries: 3, initialDelayMs: 1 });
      let tries = 0;
      const error = await runner
        .transaction(pgPoolSource(pool), async (session) => {
          tries += 1;
          await session.query(`UPDATE ${t} SET n = n + 1 WHERE id = 1`);
          await session.query('COMMIT').catch(() => undefined);
          throw retryable.postgres();
        })
        .catch((e: unknown) => e);
      expect({ tries, n: (await pool.query(`SELECT n FROM ${t}`)).rows[0].n }).toEqual({ tries: 1, n: 1 });
      expect(isDbopError(error, 'DBOP_TRANSACTION_BOUNDARY')).toBe(true);
      await runner.transaction(pgPoolSource(pool), (session) =>
        session.query(`UPDATE ${t} SET n = n + 1 WHERE id = 1`),
      );
      expect((await pool.query(`SELECT n FROM ${t}`)).rows[0].n).toBe(2);
    } finally {
      await pool.query(`DROP TABLE IF EXISTS ${t}`);
      await pool.end();
    }
  });
});

describeIfMariadb('a unit that ends its own transaction on MariaDB (mariadb driver)', () => {
  boundaryCases('mariadb', () => mariadbUrl().replace(/^mysql:/, 'mariadb:'));
});

describeIfMariadb('a unit that ends its own transaction on MariaDB (mysql2 driver)', () => {
  boundaryCases('mariadb', mariadbUrl);
});

describe('a unit that ends its own transaction on SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dbop-boundary-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  boundaryCases('sqlite', () => `sqlite:${join(dir, 'boundary.db')}`);
});
