import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type DatabaseOptions } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import { DbOpRunner } from '../../../src/runner/dbop-runner.js';
import { pgSession } from '../../../src/sessions/pg/pg-session.js';
import { ensureBinaries } from '../../support/harness/binaries.js';
import { run } from '../../support/harness/exec.js';
import { haEnabled } from '../../support/harness/ha/ha-cluster.js';
import { Pgbouncer } from '../../support/harness/ha/proxies.js';
import { type PgCluster, startPostgres } from '../../support/harness/postgres.js';

// Issue 11: pgbouncer 1.18 in transaction pooling mode hands each transaction (and each statement outside
// one) whichever server connection is free. A session setting (SET, set_config(..., false)) stays on that
// server connection for the next client; a named prepared statement exists on one server connection only.
// `dbop_single` has one server connection, so what one client leaves there, the next one sees.
describe.skipIf(!haEnabled)('pgbouncer in transaction mode (DBOP_HA=1)', () => {
  let server: PgCluster | undefined;
  let bouncer: Pgbouncer | undefined;
  let url: string;
  beforeAll(async () => {
    await ensureBinaries('ha');
    server = await startPostgres();
    const dir = join(server.baseDir, 'pgbouncer');
    await run('mkdir', ['-p', dir]);
    bouncer = await Pgbouncer.start(dir, server.primary.port);
    url = bouncer.urlFor('dbop_single');
    const setup = new pg.Client({ connectionString: server.primary.url });
    await setup.connect();
    await setup.query('CREATE TABLE item (id int PRIMARY KEY, n int NOT NULL)');
    await setup.query('INSERT INTO item SELECT g, 0 FROM generate_series(1, 10) g');
    await setup.end();
  });
  afterAll(async () => {
    await bouncer?.stop();
    await server?.destroy();
  });

  /** The settings another client of the same pgbouncer database finds on the shared server connection. */
  async function seenByAnotherClient(): Promise<{ lock: string; statement: string; prepared: number }> {
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    try {
      const lock = (await other.query<{ lock_timeout: string }>('SHOW lock_timeout')).rows[0]!.lock_timeout;
      const statement = (await other.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0]!
        .statement_timeout;
      const prepared = (await other.query<{ n: string }>('SELECT count(*) AS n FROM pg_prepared_statements'))
        .rows[0]!.n;
      return { lock, statement, prepared: Number(prepared) };
    } finally {
      await other.end();
    }
  }

  const serverDefaults = { lock: '0', statement: '0', prepared: 0 };

  async function everyKindOfCall(db: Database): Promise<void> {
    await db.query('SELECT n FROM item WHERE id = :id', { id: 1 });
    await db.query('UPDATE item SET n = n + 1 WHERE id = :id', { id: 1 });
    await db.query('SELECT 1', { readOnly: true, lockTimeoutMs: 1234 });
    await db.run((conn) => conn.execute('UPDATE item SET n = n + 1 WHERE id = 2'), {
      statementTimeoutMs: 4321,
    });
    await db.transaction(async (conn) => {
      await conn.execute('UPDATE item SET n = n + 1 WHERE id = 3');
      await conn.execute('SELECT n FROM item WHERE id = 3');
    });
    await db.acquire((conn) => conn.execute('SELECT 1'));
  }

  it.each([
    ['transactionPooler: true', (): DatabaseOptions => ({ url, transactionPooler: true })],
    ['?pgbouncer=true', (): DatabaseOptions => ({ url: `${url}?pgbouncer=true` })],
  ])('createDatabase with %s: no setting is left for the next client', async (_, options) => {
    const db = await createDatabase({ ...options(), defaultStatementTimeoutMs: 30_000 });
    try {
      await everyKindOfCall(db);
      expect(await seenByAnotherClient()).toEqual(serverDefaults);
    } finally {
      await db.close();
    }
  });

  it('createDatabase without it leaves its session timeouts on the shared server connection (why the option exists)', async () => {
    const db = await createDatabase({ url, defaultStatementTimeoutMs: 30_000 });
    try {
      await db.query('SELECT n FROM item WHERE id = :id', { id: 1 });
      // A statement outside a transaction keeps the timeouts as the connection's own settings, which is
      // right on a connection of one's own and a leak behind a transaction pooler.
      expect(await seenByAnotherClient()).toEqual({ ...serverDefaults, lock: '10s', statement: '30s' });
    } finally {
      await db.close();
      // Leave the shared server connection clean for the other tests.
      const reset = new pg.Client({ connectionString: url });
      await reset.connect();
      await reset.query('RESET ALL');
      await reset.end();
    }
  });

  it('with `transactionPooler: true` the timeouts still hold, transaction-local: lock and statement timeouts fire', async () => {
    const db = await createDatabase({
      url,
      transactionPooler: true,
      maxRetries: 0,
      defaultStatementTimeoutMs: 30_000,
    });
    const holder = new pg.Client({ connectionString: server!.primary.url });
    await holder.connect();
    try {
      // Inside a unit, the settings are in force.
      const inside = await db.run(async (conn) => {
        const lock = await conn.execute<{ lock_timeout: string }>('SHOW lock_timeout');
        const statement = await conn.execute<{ statement_timeout: string }>('SHOW statement_timeout');
        return [lock.rows[0]!.lock_timeout, statement.rows[0]!.statement_timeout];
      });
      expect(inside).toEqual(['10s', '30s']);
      await holder.query('BEGIN');
      await holder.query('SELECT * FROM item WHERE id = 5 FOR UPDATE');
      await expect(
        db.query('UPDATE item SET n = n + 1 WHERE id = :id', { id: 5 }, { lockTimeoutMs: 200 }),
      ).rejects.toMatchObject({ code: '55P03' });
      await holder.query('ROLLBACK');
      await expect(db.query('SELECT pg_sleep(10)', { statementTimeoutMs: 200 })).rejects.toMatchObject({
        code: '57014',
      });
      expect(await seenByAnotherClient()).toEqual(serverDefaults);
    } finally {
      await holder.end();
      await db.close();
    }
  });

  it('DbOpRunner on a pg Client through pgbouncer: transaction, nested run (savepoint), timeouts; nothing leaks', async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const session = pgSession(client);
    const runner = new DbOpRunner({ defaultStatementTimeoutMs: 30_000 });
    try {
      const seen = await runner.transaction(
        session,
        async (s) => {
          await s.query('UPDATE item SET n = n + 1 WHERE id = 6');
          return runner.run(
            s,
            async (inner) => {
              await inner.query('UPDATE item SET n = n + 1 WHERE id = 7');
              return (await inner.query<{ lock_timeout: string }>('SHOW lock_timeout')).rows[0]!.lock_timeout;
            },
            { lockTimeoutMs: 777 },
          );
        },
        { lockTimeoutMs: 5000 },
      );
      expect(seen).toBe('777ms');
      await runner.run(session, (s) => s.query('SELECT 1'), { lockTimeoutMs: 300, statementTimeoutMs: 400 });
      expect(await seenByAnotherClient()).toEqual(serverDefaults);
    } finally {
      await client.end();
    }
  });

  it('named prepared statements collide between clients (42P05); dbop never prepares one', async () => {
    const a = new pg.Client({ connectionString: url });
    const b = new pg.Client({ connectionString: url });
    await Promise.all([a.connect(), b.connect()]);
    try {
      await a.query({ name: 'dbop_probe', text: 'SELECT 1 AS one' });
      // b has never prepared `dbop_probe`, so pg sends Parse; the shared server connection already has it.
      await expect(b.query({ name: 'dbop_probe', text: 'SELECT 2 AS two' })).rejects.toMatchObject({
        code: '42P05',
      });
    } finally {
      await Promise.all([a.end(), b.end()]);
      const reset = new pg.Client({ connectionString: url });
      await reset.connect();
      await reset.query('DEALLOCATE ALL');
      await reset.end();
    }
    // Every kind of dbop call through the same pooler leaves no prepared statement behind.
    const db = await createDatabase({ url, transactionPooler: true });
    try {
      await everyKindOfCall(db);
    } finally {
      await db.close();
    }
    expect((await seenByAnotherClient()).prepared).toBe(0);
  });

  it('a named statement prepared on one server connection is missing on another (26000)', async () => {
    // Two server connections (the `dbop` entry has poolSize of them): a's statement lives on the one it
    // had when it was prepared. While b holds that one in a transaction, a's next use of the name lands on
    // the other, where pg believes it exists and sends only Bind.
    const a = new pg.Client({ connectionString: bouncer!.urlFor('dbop') });
    const b = new pg.Client({ connectionString: bouncer!.urlFor('dbop') });
    await Promise.all([a.connect(), b.connect()]);
    try {
      const pid = (
        await a.query<{ pid: number }>({ name: 'dbop_pid', text: 'SELECT pg_backend_pid() AS pid' })
      ).rows[0]!.pid;
      // b takes server connections until it holds the one a prepared on.
      await b.query('BEGIN');
      let held = (await b.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const others: pg.Client[] = [];
      while (held !== pid && others.length < 8) {
        const c = new pg.Client({ connectionString: bouncer!.urlFor('dbop') });
        await c.connect();
        await c.query('BEGIN');
        held = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        others.push(c);
      }
      expect(held).toBe(pid);
      // Only the holder of a's server connection keeps its transaction; the others free theirs for a.
      const holder = others.at(-1) ?? b;
      for (const c of [b, ...others]) if (c !== holder) await c.query('ROLLBACK');
      await expect(
        a.query({ name: 'dbop_pid', text: 'SELECT pg_backend_pid() AS pid' }),
      ).rejects.toMatchObject({
        code: '26000',
      });
      await holder.query('ROLLBACK');
      for (const c of others) await c.end();
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });
});
