import { describe, expect, it } from 'vitest';
import { parseDsn } from '../../../src/connect/parse-dsn.js';
import { createDatabase } from '../../../src/database/create-database.js';
import { pgPoolConfig } from '../../../src/database/drivers/pg-pool-config.js';

const settings = { connectTimeoutMs: 1000 } as Parameters<typeof pgPoolConfig>[1];

// The pooler switch (issue 11): its behaviour is tested through a real pgbouncer in
// test/integration/ha/pgbouncer.test.ts; here, only how it is given and checked.
describe('transactionPooler and ?pgbouncer=', () => {
  it('pgbouncer=true|false is a known postgres:// parameter, kept out of pg config, shown in the printed URL', () => {
    for (const value of ['true', 'false']) {
      const dsn = parseDsn(`postgres://app:pw@db:6432/shop?pgbouncer=${value}`);
      const config = pgPoolConfig(dsn, settings);
      expect(config).not.toHaveProperty('pgbouncer');
      expect(dsn.redacted).toBe(`postgres://app:***@db:6432/shop?pgbouncer=${value}`);
    }
  });

  it('any other pgbouncer value is an error naming the parameter', () => {
    const dsn = parseDsn('postgres://app@db/shop?pgbouncer=yes');
    expect(() => pgPoolConfig(dsn, settings)).toThrow(/pgbouncer.*true or false/);
  });

  it('transactionPooler must be a boolean', async () => {
    await expect(
      createDatabase({ url: 'sqlite::memory:', transactionPooler: 'yes' as unknown as boolean }),
    ).rejects.toThrow(/transactionPooler/);
  });

  it('transactionPooler: true on SQLite still runs queries (each in its own transaction)', async () => {
    const db = await createDatabase({ url: 'sqlite::memory:', transactionPooler: true });
    try {
      await db.query('CREATE TABLE t (n INTEGER)');
      await db.query('INSERT INTO t VALUES (:n)', { n: 1 });
      expect((await db.query('SELECT n FROM t')).rows).toEqual([{ n: 1 }]);
    } finally {
      await db.close();
    }
  });
});
