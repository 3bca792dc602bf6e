import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConcurrencyLimiter, type LimiterMessage } from '../../../src/core/concurrency-limiter.js';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import { describeIfPostgres, postgresUrl } from '../../support/servers.js';

const table = `dbop_limiter_${process.pid}`;

describeIfPostgres('the default limiter under real contention (Postgres, SERIALIZABLE)', () => {
  let admin: pg.Client;
  beforeAll(async () => {
    admin = new pg.Client({ connectionString: postgresUrl() });
    await admin.connect();
    await admin.query(`CREATE TABLE ${table} (id int PRIMARY KEY, balance int NOT NULL)`);
    await admin.query(`INSERT INTO ${table} VALUES (1, 1000), (2, 1000), (3, 1000)`);
  });
  afterAll(async () => {
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.end();
  });

  it('shrinks on deadlocks and serialization failures, and every transfer commits exactly once', async () => {
    const db: Database = await createDatabase({ url: postgresUrl(), max: 10 });
    const limits: number[] = [];
    const listener = (message: unknown): void => {
      const m = message as LimiterMessage;
      if (m.event === 'decrease') limits.push(m.limit);
    };
    subscribe('dbop:limiter', listener);
    try {
      // 3 hot rows locked in random order by 10 workers: real 40P01 and 40001 from the server.
      const transfer = (n: number): Promise<void> => {
        const [from, to] = n % 2 === 0 ? [1 + (n % 3), 1 + ((n + 1) % 3)] : [1 + ((n + 1) % 3), 1 + (n % 3)];
        return db.transaction(
          async (conn) => {
            await conn.execute(`SELECT balance FROM ${table} WHERE id = :id FOR UPDATE`, { id: from });
            await conn.execute(`SELECT balance FROM ${table} WHERE id = :id FOR UPDATE`, { id: to });
            await conn.execute(`UPDATE ${table} SET balance = balance - 1 WHERE id = :id`, { id: from });
            await conn.execute(`UPDATE ${table} SET balance = balance + 1 WHERE id = :id`, { id: to });
          },
          { isolationLevel: 'serializable' },
        );
      };
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < 120) await transfer(next++);
      };
      await Promise.all(Array.from({ length: 10 }, worker));
      const stats = db.stats();
      expect(stats.limiter?.decreases).toBeGreaterThan(0);
      expect(Math.min(...limits)).toBeLessThan(10);
      expect(stats.limiter).toMatchObject({ inFlight: 0, queued: 0 });
      const { rows } = await admin.query(`SELECT sum(balance)::int AS total FROM ${table}`);
      expect(rows[0].total).toBe(3000);
    } finally {
      unsubscribe('dbop:limiter', listener);
      await db.close();
    }
  }, 120_000);

  it('a unit started inside a transaction that holds the only permit runs, instead of waiting for itself', async () => {
    const limiter = new ConcurrencyLimiter({ maxLimit: 1 });
    const db = await createDatabase({ url: postgresUrl(), max: 2, limiter });
    try {
      const inner = await db.transaction(async () => {
        const { rows } = await db.query<{ n: number }>('SELECT 1 AS n');
        return rows[0]!.n;
      });
      expect(inner).toBe(1);
      expect(db.stats().limiter).toMatchObject({ limit: 1, inFlight: 0, queued: 0 });
    } finally {
      await db.close();
    }
  }, 30_000);
});
