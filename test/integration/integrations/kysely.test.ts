import {
  CompiledQuery,
  type Generated,
  Kysely,
  MysqlDialect,
  PostgresDialect,
  sql,
  type Transaction,
} from 'kysely';
import { createPool as createMysqlPool, type Pool as MysqlPool } from 'mysql2';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { retryTransaction, step } from '../../../src/integrations/kysely/index.js';
import { describeIfMariadb, describeIfPostgres, mariadbUrl, postgresUrl } from '../../support/servers.js';
import { type OrmUnderTest, ormEvidence } from './orm-evidence.js';
import { type Admin, commitCutter, databaseUrl, mariadbAdmin, postgresAdmin } from './orm-support.js';

interface DB {
  account: { id: number; balance: number };
  audit: { id: Generated<number>; slow: number };
}
type Tx = Transaction<DB>;

/** The transfer's statements with Kysely's query builder, on the handle retryTransaction passes. */
function kysely(
  db: Kysely<DB>,
  admin: Admin,
  logged: string[],
  backend: { serverId: string; sleep: string },
): Omit<OrmUnderTest<Tx>, 'pooled' | 'cutCommit'> {
  return {
    admin,
    logged,
    retry: (fn, options) => retryTransaction(db, fn, options),
    step: (trx, fn, options) => step(trx, fn, options),
    add: (trx, id, amount) =>
      trx
        .updateTable('account')
        .set({ balance: sql`balance + ${amount}` })
        .where('id', '=', id)
        .execute(),
    balance: async (trx, id) =>
      (await trx.selectFrom('account').select('balance').where('id', '=', id).executeTakeFirstOrThrow())
        .balance,
    setBalance: (trx, id, value) =>
      trx.updateTable('account').set({ balance: value }).where('id', '=', id).execute(),
    audit: (trx, slow) => trx.insertInto('audit').values({ slow }).execute(),
    serverId: async (trx) =>
      Number((await sql.raw<{ id: number }>(backend.serverId).execute(trx)).rows[0]!.id),
    sleep: (trx) => sql.raw(backend.sleep).execute(trx),
    raw: (trx, statement) => sql.raw(statement).execute(trx),
  };
}

describeIfPostgres('dbop/kysely on PostgreSQL (pg pool through PostgresDialect)', () => {
  const schema = `dbop_kysely_${process.pid}`;
  const logged: string[] = [];
  let pool: pg.Pool;
  let db: Kysely<DB>;
  let admin: Admin;
  beforeAll(async () => {
    admin = await postgresAdmin(postgresUrl(), schema);
    pool = new pg.Pool({ connectionString: postgresUrl(), max: 4, options: `-c search_path=${schema}` });
    pool.on('error', () => undefined);
    // node-postgres leaves a checked-out client's 'error' unhandled (a killed backend would crash the
    // process); Kysely never shows dbop the client, so the pool's owner listens, as pg's docs advise.
    pool.on('connect', (client) => client.on('error', () => undefined));
    db = new Kysely<DB>({
      dialect: new PostgresDialect({ pool }),
      log: (event) => {
        logged.push(event.query.sql);
      },
    });
  });
  afterAll(async () => {
    await db?.destroy();
    await admin?.end();
  });
  ormEvidence(() => ({
    ...kysely(db, admin, logged, { serverId: 'SELECT pg_backend_pid() AS id', sleep: 'SELECT pg_sleep(60)' }),
    pooled: () => ({ idle: pool.idleCount, total: pool.totalCount }),
  }));
});

describeIfMariadb('dbop/kysely on MariaDB (mysql2 pool through MysqlDialect)', () => {
  const database = `dbop_kysely_${process.pid}`;
  const logged: string[] = [];
  let pool: MysqlPool;
  let db: Kysely<DB>;
  let admin: Admin;
  let cutCommit: ReturnType<typeof commitCutter>;
  beforeAll(async () => {
    admin = await mariadbAdmin(mariadbUrl(), database);
    pool = createMysqlPool({ uri: databaseUrl(mariadbUrl(), database), connectionLimit: 4 });
    cutCommit = commitCutter(pool, admin);
    db = new Kysely<DB>({
      dialect: new MysqlDialect({
        pool,
        // MariaDB reports a write to a row changed since the snapshot (1020) only with this on.
        onCreateConnection: async (c) => {
          await c.executeQuery(CompiledQuery.raw('SET SESSION innodb_snapshot_isolation = ON'));
        },
      }),
      log: (event) => {
        logged.push(event.query.sql);
      },
    });
  });
  afterAll(async () => {
    await db?.destroy();
    await admin?.end();
  });
  ormEvidence(() => ({
    ...kysely(db, admin, logged, { serverId: 'SELECT CONNECTION_ID() AS id', sleep: 'SELECT SLEEP(60)' }),
    pooled: () => {
      const internals = pool as unknown as {
        _allConnections: { length: number };
        _freeConnections: { length: number };
      };
      return { idle: internals._freeConnections.length, total: internals._allConnections.length };
    },
    cutCommit,
  }));
});
