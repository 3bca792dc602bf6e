import { sql as drizzleSql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import knexFactory from 'knex';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { messageOf } from '../../../src/core/execute-report.js';
import { classify } from '../../../src/dialects/classify.js';
import { describeIfPostgres, postgresUrl } from '../../support/servers.js';
import { type Admin, postgresAdmin, resetAccounts } from './orm-support.js';

/** classify() on errors the ORMs really threw against a real server (no hand-made wrappers). */
describeIfPostgres('classify on errors Kysely, Knex, Drizzle and TypeORM really threw (PostgreSQL)', () => {
  const schema = `dbop_ormerr_${process.pid}`;
  let admin: Admin;
  let pool: pg.Pool;
  beforeAll(async () => {
    admin = await postgresAdmin(postgresUrl(), schema);
    await resetAccounts(admin);
    pool = new pg.Pool({ connectionString: postgresUrl(), max: 2, options: `-c search_path=${schema}` });
  });
  afterAll(async () => {
    await pool?.end();
    await admin?.end();
  });

  /** What `provoke` throws while another connection holds the row lock and lock_timeout is 100 ms. */
  async function lockTimeout(provoke: () => Promise<unknown>): Promise<unknown> {
    const release = await admin.holdRow(1);
    try {
      return await provoke().then(
        () => undefined,
        (error: unknown) => error,
      );
    } finally {
      await release();
    }
  }

  it('Kysely: the driver error itself, classified lock-timeout (55P03)', async () => {
    const db = new Kysely<{ account: { id: number; balance: number } }>({
      dialect: new PostgresDialect({ pool }),
    });
    const error = await lockTimeout(() =>
      db.transaction().execute(async (trx) => {
        await sql`SET LOCAL lock_timeout = '100ms'`.execute(trx);
        await trx.updateTable('account').set({ balance: 0 }).where('id', '=', 1).execute();
      }),
    );
    expect(classify(error)).toMatchObject({ kind: 'lock-timeout', scope: 'statement', code: '55P03' });
  });

  it('Knex: the driver error with the SQL and values put in front of its message; still classified', async () => {
    const knex = knexFactory({
      client: 'pg',
      connection: { connectionString: postgresUrl(), options: `-c search_path=${schema}` },
    });
    try {
      const error = await lockTimeout(() =>
        knex.transaction(async (trx) => {
          await trx.raw(`SET LOCAL lock_timeout = '100ms'`);
          await trx('account').where({ id: 1 }).update({ balance: 4242 });
        }),
      );
      // Knex puts the SQL in front of the driver's message (on pg with $n placeholders, values apart).
      expect((error as Error).message).toMatch(
        /^update "account" set "balance" = \$1 .* - canceling statement/,
      );
      expect(classify(error)).toMatchObject({ kind: 'lock-timeout', code: '55P03' });
    } finally {
      await knex.destroy();
    }
  });

  it('Knex: a pool timeout (KnexTimeoutError) is pool exhaustion, not retried', async () => {
    const knex = knexFactory({
      client: 'pg',
      connection: postgresUrl(),
      pool: { min: 0, max: 1 },
      acquireConnectionTimeout: 300,
    });
    const held = await knex.client.acquireConnection();
    try {
      const error = await knex.raw('SELECT 1').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((error as Error).name).toBe('KnexTimeoutError');
      expect(classify(error)).toMatchObject({ kind: 'pool-exhausted', retryable: false });
    } finally {
      await knex.client.releaseConnection(held);
      await knex.destroy();
    }
  });

  it("Drizzle: DrizzleQueryError (SQL and params in its message) is read through its cause; dbop's log line is the driver's", async () => {
    const db = drizzle({ client: pool });
    const error = await lockTimeout(() =>
      db.transaction(async (tx) => {
        await tx.execute(drizzleSql`SET LOCAL lock_timeout = '100ms'`);
        await tx.execute(drizzleSql`UPDATE account SET balance = ${4242} WHERE id = 1`);
      }),
    );
    // Drizzle 0.45 leaves the class's name as 'Error'.
    expect((error as Error).constructor.name).toBe('DrizzleQueryError');
    expect((error as Error).message).toContain('4242');
    expect(classify(error)).toMatchObject({ kind: 'lock-timeout', code: '55P03' });
    expect(messageOf(error)).not.toContain('4242');
  });

  it("TypeORM: QueryFailedError is read through its driverError; dbop's log line is the driver's", async () => {
    const dataSource = new DataSource({ type: 'postgres', url: postgresUrl(), schema, extra: { max: 2 } });
    await dataSource.initialize();
    try {
      const error = await lockTimeout(() =>
        dataSource.transaction(async (manager) => {
          await manager.query(`SET LOCAL lock_timeout = '100ms'`);
          await manager.query(`UPDATE ${schema}.account SET balance = $1 WHERE id = 1`, [4242]);
        }),
      );
      expect((error as Error).name).toBe('QueryFailedError');
      expect((error as { parameters?: unknown[] }).parameters).toEqual([4242]);
      expect(classify(error)).toMatchObject({ kind: 'lock-timeout', code: '55P03' });
      expect(messageOf(error)).not.toContain('4242');
    } finally {
      await dataSource.destroy();
    }
  });
});
