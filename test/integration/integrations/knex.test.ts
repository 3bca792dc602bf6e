import knexFactory, { type Knex } from 'knex';
import { afterAll, beforeAll, describe } from 'vitest';
import { retryTransaction, step } from '../../../src/integrations/knex/index.js';
import { describeIfMariadb, describeIfPostgres, mariadbUrl, postgresUrl } from '../../support/servers.js';
import { type OrmUnderTest, ormEvidence, ormSqliteEvidence } from './orm-evidence.js';
import {
  type Admin,
  commitCutter,
  databaseUrl,
  mariadbAdmin,
  postgresAdmin,
  type SqliteBank,
  sqliteBank,
} from './orm-support.js';

type Tx = Knex.Transaction;

/** The transfer's statements with Knex's query builder, on the handle retryTransaction passes. */
function knex(
  db: Knex,
  admin: Admin,
  logged: string[],
  serverId: (trx: Tx) => Promise<number>,
  sleep: string,
): Omit<OrmUnderTest<Tx>, 'cutCommit'> {
  return {
    admin,
    logged,
    retry: (fn, options) => retryTransaction(db, fn, options),
    step: (trx, fn, options) => step(trx, fn, options),
    add: (trx, id, amount) => trx('account').where({ id }).increment('balance', amount),
    balance: async (trx, id) =>
      Number((await trx('account').select('balance').where({ id }).first()).balance),
    setBalance: (trx, id, value) => trx('account').where({ id }).update({ balance: value }),
    audit: (trx, slow) => trx('audit').insert({ slow }),
    serverId,
    sleep: (trx) => trx.raw(sleep, [60]),
    raw: (trx, statement) => trx.raw(statement),
  };
}

describeIfPostgres('dbop/knex on PostgreSQL (pg)', () => {
  const schema = `dbop_knex_${process.pid}`;
  const logged: string[] = [];
  let db: Knex;
  let admin: Admin;
  beforeAll(async () => {
    admin = await postgresAdmin(postgresUrl(), schema);
    db = knexFactory({
      client: 'pg',
      connection: { connectionString: postgresUrl(), options: `-c search_path=${schema}` },
      pool: { min: 0, max: 4 },
    });
    db.on('query', (q: { sql: string }) => logged.push(q.sql));
  });
  afterAll(async () => {
    await db?.destroy();
    await admin?.end();
  });
  ormEvidence(() =>
    knex(
      db,
      admin,
      logged,
      async (trx) => Number((await trx.raw('SELECT pg_backend_pid() AS id')).rows[0].id),
      'SELECT pg_sleep(?)',
    ),
  );
});

describeIfMariadb('dbop/knex on MariaDB (mysql2)', () => {
  const database = `dbop_knex_${process.pid}`;
  const logged: string[] = [];
  let db: Knex;
  let admin: Admin;
  let cutCommit: ReturnType<typeof commitCutter>;
  let watch: (connection: unknown) => void = () => undefined;
  beforeAll(async () => {
    admin = await mariadbAdmin(mariadbUrl(), database);
    cutCommit = commitCutter({ on: (_event, listener) => (watch = listener) }, admin);
    db = knexFactory({
      client: 'mysql2',
      connection: databaseUrl(mariadbUrl(), database),
      pool: {
        min: 0,
        max: 4,
        // MariaDB reports a write to a row changed since the snapshot (1020) only with this on.
        afterCreate: (
          connection: { query(sql: string, cb: (error: unknown) => void): void },
          done: (error: unknown, c: unknown) => void,
        ) => {
          watch(connection);
          connection.query('SET SESSION innodb_snapshot_isolation = ON', (error) => done(error, connection));
        },
      },
    });
    db.on('query', (q: { sql: string }) => logged.push(q.sql));
  });
  afterAll(async () => {
    await db?.destroy();
    await admin?.end();
  });
  ormEvidence(() => ({
    ...knex(
      db,
      admin,
      logged,
      async (trx) => Number((await trx.raw('SELECT CONNECTION_ID() AS id'))[0][0].id),
      'SELECT SLEEP(?)',
    ),
    cutCommit,
  }));
});

describe('dbop/knex on SQLite (better-sqlite3)', () => {
  const logged: string[] = [];
  let bank: SqliteBank;
  let db: Knex;
  beforeAll(() => {
    bank = sqliteBank('dbop-knex-');
    db = knexFactory({
      client: 'better-sqlite3',
      connection: { filename: bank.file },
      useNullAsDefault: true,
      pool: {
        afterCreate: (
          connection: { pragma(source: string): unknown },
          done: (e: unknown, c: unknown) => void,
        ) => {
          connection.pragma('busy_timeout = 100');
          done(null, connection);
        },
      },
    });
    db.on('query', (q: { sql: string }) => logged.push(q.sql));
  });
  afterAll(async () => {
    await db?.destroy();
    bank?.close();
  });
  ormSqliteEvidence<Tx>(() => ({
    bank,
    logged,
    retry: (fn, options) => retryTransaction(db, fn, options),
    step: (trx, fn, options) => step(trx, fn, options),
    add: (trx, id, amount) => trx('account').where({ id }).increment('balance', amount),
    addOutside: (id, amount) => db('account').where({ id }).increment('balance', amount),
    // Knex prepares nothing ahead: the same write, which waits for its pool of one.
    preparedOutside: async (id, amount) => {
      const write = () => db('account').where({ id }).increment('balance', amount);
      await write();
      return write;
    },
    raw: (trx, statement) => trx.raw(statement),
    connection: async () => {
      const connection = await db.client.acquireConnection();
      await db.client.releaseConnection(connection);
      return connection;
    },
    busyTimeout: async () => Number((await db.raw('SELECT timeout FROM pragma_busy_timeout'))[0].timeout),
  }));
});
