import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import Database from 'better-sqlite3';
import * as mariadb from 'mariadb';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify } from '../../../src/dialects/classify.js';
import {
  type Fault,
  type FaultDriver,
  FaultInjector,
  injectConnectFaults,
  injectDriverFaults,
  startFaultProxy,
} from '../../../src/testing/index.js';
import { type MariadbServer, startMariadb } from '../../support/harness/mariadb.js';
import { describeIfMariadb, describeIfPostgres, sharedServers } from '../../support/servers.js';
import { failure, thrown, uniqueName } from '../classify/drivers.js';

// Each fault the kit injects, next to the same fault the server really produced in this run: same class,
// same own fields, same codes and texts, same classification.

/** Everything about an error that code under test can look at, minus what differs per connection. */
function shape(error: unknown): Record<string, unknown> {
  const e = error as Error & Record<string, unknown>;
  const fields = Object.fromEntries(
    ['name', 'severity', 'code', 'errno', 'sqlState', 'sqlMessage', 'fatal', 'text', 'detail', 'hint'].map(
      (key) => [key, key === 'detail' ? typeof e[key] : e[key]],
    ),
  );
  return {
    class: e.constructor,
    keys: Object.keys(e).sort(),
    // mariadb prefixes the connection id; the tail is the statement, compared separately.
    message: String(e.message)
      .replace(/^\(conn:-?\d+,/, '(conn:N,')
      .replace(/\nsql: .*$/s, ''),
    ...fields,
  };
}

function classification(error: unknown, dialect?: 'mariadb'): Record<string, unknown> {
  const { kind, scope, retryable, ambiguous, code, backend } = classify(error, dialect ? { dialect } : {});
  return { kind, scope, retryable, ambiguous, code, backend };
}

function expectSame(real: unknown, injected: unknown, dialect?: 'mariadb'): void {
  expect(shape(injected)).toEqual(shape(real));
  expect(classification(injected, dialect)).toEqual(classification(real, dialect));
}

/** A rule that strikes the next statement containing `marker`. */
function injectorFor(fault: Fault, marker = 'kit_probe'): FaultInjector {
  return new FaultInjector({ rules: [{ fault, statement: marker, times: 1 }] });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function pgClient(url: string, injector?: FaultInjector): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  return injector ? injectDriverFaults(client, injector, { driver: 'pg' }) : client;
}

describeIfPostgres('dbop/testing: pg errors, injected and real', () => {
  const url = (): string => sharedServers().postgres!.primary.url;
  const table = uniqueName('kit_pg');
  const clients: pg.Client[] = [];
  const open = async (u = url(), injector?: FaultInjector): Promise<pg.Client> => {
    const client = await pgClient(u, injector);
    clients.push(client);
    return client;
  };
  /** The error the kit injects for `fault` when `sql` runs on a fresh connection. */
  const injected = async (fault: Fault, sql: string): Promise<unknown> => {
    const client = await open(url(), injectorFor(fault, sql));
    return failure(client.query(sql));
  };

  beforeAll(async () => {
    const admin = await open();
    await admin.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v int NOT NULL)`);
    await admin.query(`INSERT INTO ${table} VALUES (1, 0), (2, 0)`);
  });

  afterAll(async () => {
    const admin = await pgClient(url());
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.end();
    await Promise.allSettled(clients.map((c) => c.end()));
  });

  it('serialization (40001)', async () => {
    const [a, b] = [await open(), await open()];
    await a.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
    await a.query(`SELECT v FROM ${table} WHERE id = 1`);
    await b.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`);
    const real = await failure(a.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`));
    await a.query('ROLLBACK');
    expectSame(real, await injected('serialization', `UPDATE ${table} SET v = v + 1 WHERE id = 1`));
  });

  it('deadlock (40P01)', async () => {
    const [a, b] = [await open(), await open()];
    for (const c of [a, b]) await c.query("SET deadlock_timeout = '50ms'");
    await a.query('BEGIN');
    await b.query('BEGIN');
    await a.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`);
    await b.query(`UPDATE ${table} SET v = v + 1 WHERE id = 2`);
    const results = await Promise.allSettled([
      a.query(`UPDATE ${table} SET v = v + 1 WHERE id = 2`),
      b.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`),
    ]);
    await Promise.allSettled([a.query('ROLLBACK'), b.query('ROLLBACK')]);
    const real = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []))[0];
    expectSame(real, await injected('deadlock', `UPDATE ${table} SET v = v + 1 WHERE id = 2`));
  });

  it('lock timeout (55P03) and statement timeout (57014)', async () => {
    const [a, b] = [await open(), await open()];
    await a.query('BEGIN');
    await a.query(`SELECT * FROM ${table} WHERE id = 1 FOR UPDATE`);
    await b.query("SET lock_timeout = '100ms'");
    const lock = await failure(b.query(`UPDATE ${table} SET v = 0 WHERE id = 1`));
    await a.query('ROLLBACK');
    expectSame(lock, await injected('lock-timeout', `UPDATE ${table} SET v = 0 WHERE id = 1`));
    await b.query("SET statement_timeout = '50ms'");
    const timeout = await failure(b.query('SELECT pg_sleep(2)'));
    expectSame(timeout, await injected('statement-timeout', 'SELECT pg_sleep(0)'));
  });

  it('read-only after failover (25006 on a standby)', async () => {
    const standby = await open(sharedServers().postgres!.standbys[0]!.url);
    const real = await failure(standby.query(`UPDATE ${table} SET v = 0 WHERE id = 1`));
    expectSame(real, await injected('read-only', `UPDATE ${table} SET v = 0 WHERE id = 1`));
  });

  it('server shutting down (57P01) and a connection lost before a statement', async () => {
    const [admin, victim] = [await open(), await open()];
    const pid = (await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const running = failure(victim.query('SELECT pg_sleep(10)'));
    for (let i = 0; i < 200; i++) {
      const { rows } = await admin.query(
        `SELECT 1 FROM pg_stat_activity WHERE pid = ${pid} AND query LIKE '%pg_sleep(10)%'`,
      );
      if (rows.length > 0) break;
      await sleep(20);
    }
    await admin.query(`SELECT pg_terminate_backend(${pid})`);
    const shutdown = await running;
    expectSame(shutdown, await injected('server-shutdown', 'SELECT 1 AS kit_shutdown'));
    // node-postgres learns that the socket closed a moment after the FATAL error (on a loaded machine, after a
    // statement sent at once: "Connection terminated unexpectedly"). Wait until it knows, as a later caller would.
    const internals = victim as unknown as { _queryable?: boolean };
    for (let i = 0; i < 200 && internals._queryable !== false; i++) await sleep(10);
    // The next statement on the dead connection: "not queryable", what a connection killed while idle gives.
    const before = await failure(victim.query('SELECT 1'));
    expectSame(before, await injected('connection-lost', 'SELECT 1 AS kit_lost'));
  });

  it('connection lost while a COMMIT is in flight (the server closed the socket)', async () => {
    const proxy = await startFaultProxy({ targetPort: sharedServers().postgres!.primary.port });
    try {
      const client = await open(`postgres://postgres@127.0.0.1:${proxy.port}/dbop`);
      await client.query('BEGIN');
      const running = failure(client.query('SELECT pg_sleep(5)'));
      await sleep(200);
      proxy.endAll();
      const real = await running;
      const commit = await open(url(), injectorFor('commit-lost', 'COMMIT'));
      await commit.query('BEGIN');
      const lost = await failure(commit.query('COMMIT'));
      expectSame(real, lost);
      // The kit really closed the connection, as a lost network does.
      expect(await failure(commit.query('SELECT 1'))).toMatchObject({
        message: 'Client has encountered a connection error and is not queryable',
      });
    } finally {
      await proxy.close();
    }
  });

  it('too many connections (53300, at connect)', async () => {
    const role = uniqueName('kit_role');
    const admin = await open();
    await admin.query(`CREATE ROLE ${role} LOGIN CONNECTION LIMIT 1`);
    try {
      const u = new URL(url());
      u.username = role;
      const first = await open(u.href);
      const real = await failure(pgClient(u.href));
      await first.end();
      const connect = injectConnectFaults(
        (target: string) => pgClient(target),
        new FaultInjector({ rules: [{ fault: 'too-many-connections', times: 1 }] }),
        { driver: 'pg' },
      );
      const refused = await failure(connect(url()));
      // The server names the limit it hit: the role's here, max_connections' in the kit.
      expect({ ...shape(refused), message: '' }).toEqual({ ...shape(real), message: '' });
      expect((refused as Error).message).toBe('sorry, too many clients already');
      expect(classification(refused)).toEqual(classification(real));
    } finally {
      await admin.query(`DROP ROLE ${role}`);
    }
  });
});

type MysqlDriver = 'mysql2' | 'mariadb';
interface MyConnection {
  readonly threadId: number;
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
}

async function myConnect(driver: MysqlDriver, url: string, injector?: FaultInjector): Promise<MyConnection> {
  const u = new URL(url);
  const options = {
    host: u.hostname,
    port: Number(u.port),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: u.pathname.slice(1),
  };
  const raw =
    driver === 'mysql2'
      ? await mysql.createConnection(options)
      : await mariadb.createConnection({ ...options, connectTimeout: 10_000 });
  raw.on('error', () => {});
  const connection = injector ? injectDriverFaults(raw, injector, { driver }) : raw;
  return {
    threadId: raw.threadId ?? -1,
    query: async (sql) => {
      const result = await (connection as { query(sql: string): Promise<unknown> }).query(sql);
      return driver === 'mysql2' ? (result as unknown[])[0] : result;
    },
    end: () => raw.end().catch(() => raw.destroy()),
  };
}

describeIfMariadb('dbop/testing: mysql2 and mariadb errors, injected and real', () => {
  const url = (): string => sharedServers().mariadb!.url;
  const table = uniqueName('kit_my');
  const opened: MyConnection[] = [];
  let server: MariadbServer;

  beforeAll(async () => {
    // Read-only, too many connections and a shutdown need a server of our own.
    server = await startMariadb();
    const admin = await myConnect('mysql2', url());
    await admin.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB`);
    await admin.query(`INSERT INTO ${table} VALUES (1, 0), (2, 0)`);
    await admin.end();
  });

  afterAll(async () => {
    await Promise.allSettled(opened.map((c) => c.end()));
    const admin = await myConnect('mysql2', url());
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.end();
    await server?.destroy();
  });

  describe.each(['mysql2', 'mariadb'] as const)('%s', (driver: MysqlDriver) => {
    const open = async (u = url(), injector?: FaultInjector): Promise<MyConnection> => {
      const connection = await myConnect(driver, u, injector);
      opened.push(connection);
      return connection;
    };
    const injected = async (fault: Fault, sql: string, u = url()): Promise<unknown> => {
      const connection = await open(u, injectorFor(fault, sql));
      return failure(connection.query(sql));
    };
    const same = (real: unknown, kit: unknown): void => {
      expectSame(real, kit, 'mariadb');
      // mariadb's message and `sql` end with the statement; mysql2's `sql` is the statement.
      expect((kit as { sql?: unknown }).sql).toEqual((real as { sql?: unknown }).sql);
    };

    it('deadlock and serialization (1213: InnoDB reports a SERIALIZABLE conflict as a deadlock)', async () => {
      const [a, b] = [await open(), await open()];
      await a.query('START TRANSACTION');
      await b.query('START TRANSACTION');
      await a.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`);
      await b.query(`UPDATE ${table} SET v = v + 1 WHERE id = 2`);
      const sqlA = `UPDATE ${table} SET v = v + 1 WHERE id = 2`;
      const sqlB = `UPDATE ${table} SET v = v + 1 WHERE id = 1`;
      const results = await Promise.allSettled([a.query(sqlA), b.query(sqlB)]);
      await Promise.allSettled([a.query('ROLLBACK'), b.query('ROLLBACK')]);
      const index = results.findIndex((r) => r.status === 'rejected');
      const real = (results[index] as PromiseRejectedResult).reason;
      const sql = index === 0 ? sqlA : sqlB;
      same(real, await injected('deadlock', sql));
      same(real, await injected('serialization', sql));
    });

    it('lock wait timeout (1205) and max_statement_time (1969)', async () => {
      const [a, b] = [await open(), await open()];
      await a.query('START TRANSACTION');
      await a.query(`SELECT * FROM ${table} WHERE id = 1 FOR UPDATE`);
      await b.query('SET SESSION innodb_lock_wait_timeout = 0');
      const sql = `UPDATE ${table} SET v = 0 WHERE id = 1`;
      const lock = await failure(b.query(sql));
      await a.query('ROLLBACK');
      same(lock, await injected('lock-timeout', sql));
      const slow = 'SET STATEMENT max_statement_time = 0.05 FOR SELECT SLEEP(2)';
      same(await failure(b.query(slow)), await injected('statement-timeout', slow));
    });

    it('a connection lost before a statement, and lost under one (KILL, a COMMIT in flight)', async () => {
      const [admin, victim] = [await open(), await open()];
      const running = failure(victim.query('SELECT SLEEP(10)'));
      await sleep(300);
      await admin.query(`KILL ${victim.threadId}`);
      const under = await running;
      const commit = await open(url(), injectorFor('commit-lost', 'COMMIT'));
      await commit.query('START TRANSACTION');
      expectSame(under, await failure(commit.query('COMMIT')), 'mariadb');
      const before = await failure(victim.query('SELECT 1 AS kit_lost'));
      same(before, await injected('connection-lost', 'SELECT 1 AS kit_lost'));
    });

    it('read-only after failover (1290: --read-only), on a private server', async () => {
      const user = uniqueName('kit_u');
      await server.sql(
        `CREATE USER ${user}@'%' IDENTIFIED BY 'kit'; GRANT ALL ON dbop.* TO ${user}@'%'; CREATE TABLE IF NOT EXISTS dbop.ro (id INT)`,
      );
      const u = new URL(server.url);
      u.username = user;
      u.password = 'kit';
      await server.sql('SET GLOBAL read_only = 1');
      try {
        const sql = 'INSERT INTO ro VALUES (1)';
        const real = await failure((await open(u.href)).query(sql));
        same(real, await injected('read-only', sql, u.href));
      } finally {
        await server.sql('SET GLOBAL read_only = 0');
      }
    });

    it('too many connections (1040, at connect), on a private server', async () => {
      const user = uniqueName('kit_c');
      await server.sql(`CREATE USER ${user}@'%' IDENTIFIED BY 'kit'; GRANT ALL ON dbop.* TO ${user}@'%'`);
      const u = new URL(server.url);
      u.username = user;
      u.password = 'kit';
      const holders: MyConnection[] = [];
      await server.sql('SET GLOBAL max_connections = 3');
      try {
        let real: unknown;
        for (let i = 0; i < 10 && real === undefined; i++) {
          try {
            holders.push(await myConnect(driver, u.href));
          } catch (error) {
            real = error;
          }
        }
        const connect = injectConnectFaults(
          (target: string) => myConnect(driver, target),
          new FaultInjector({ rules: [{ fault: 'too-many-connections', times: 1 }] }),
          { driver },
        );
        const refused = await failure(connect(u.href));
        expectSame(real, refused, 'mariadb');
      } finally {
        await server.sql('SET GLOBAL max_connections = 151');
        await Promise.allSettled(holders.map((h) => h.end()));
      }
    });

    it('server shutting down: the socket closes under the statement (no 1053 reaches the client)', async () => {
      const victim = await open(server.url);
      const running = failure(victim.query('SELECT SLEEP(10)'));
      await sleep(300);
      await server.sql('SHUTDOWN').catch(() => undefined);
      const real = await running;
      await server.start();
      expectSame(real, await injected('server-shutdown', 'SELECT 1 AS kit_down'), 'mariadb');
    });
  });
});

describe('dbop/testing: better-sqlite3 and PGlite errors, injected and real', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dbop-kit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('SQLITE_BUSY (lock timeout, deadlock), SQLITE_BUSY_SNAPSHOT (serialization), SQLITE_READONLY', () => {
    const file = join(dir, 'kit.sqlite');
    const a = new Database(file, { timeout: 0 });
    const b = new Database(file, { timeout: 0 });
    try {
      a.pragma('journal_mode = WAL');
      a.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER); INSERT INTO t VALUES (1, 0)');
      const kit = (fault: Fault, sql: string): unknown => {
        const db = injectDriverFaults(new Database(file, { timeout: 0 }), injectorFor(fault, sql), {
          driver: 'better-sqlite3',
        });
        try {
          return thrown(() => db.prepare(sql).run());
        } finally {
          db.close();
        }
      };
      a.exec('BEGIN IMMEDIATE');
      const busy = thrown(() => b.exec('BEGIN IMMEDIATE'));
      a.exec('ROLLBACK');
      expectSame(busy, kit('lock-timeout', 'UPDATE t SET v = 1'));
      expectSame(busy, kit('deadlock', 'UPDATE t SET v = 1'));
      // A read snapshot older than a committed write cannot be upgraded to a write.
      b.exec('BEGIN');
      b.prepare('SELECT * FROM t').all();
      a.exec('UPDATE t SET v = v + 1');
      const snapshot = thrown(() => b.exec('UPDATE t SET v = v + 1'));
      b.exec('ROLLBACK');
      expectSame(snapshot, kit('serialization', 'UPDATE t SET v = 2'));
      const readonly = new Database(file, { readonly: true });
      const real = thrown(() => readonly.exec('UPDATE t SET v = 3'));
      readonly.close();
      expectSame(real, kit('read-only', 'UPDATE t SET v = 3'));
    } finally {
      a.close();
      b.close();
    }
  });

  it('PGlite: 25006 in a READ ONLY transaction, same class', async () => {
    const db = await PGlite.create();
    try {
      await db.exec('CREATE TABLE t (id int)');
      await db.exec('BEGIN READ ONLY');
      const real = await failure(db.query('INSERT INTO t VALUES (1)'));
      await db.exec('ROLLBACK');
      const kit = injectDriverFaults(db, injectorFor('read-only', 'INSERT INTO t'), { driver: 'pglite' });
      const injected = await failure(kit.query('INSERT INTO t VALUES (1)'));
      // PGlite leaves the fields the server did not send unset, where pg sets them to undefined.
      expect(injected).toBeInstanceOf((real as Error).constructor);
      expect(classification(injected)).toEqual(classification(real));
      expect((injected as Error).message).toBe((real as Error).message);
    } finally {
      await db.close();
    }
  });

  it('drivers reject the faults they cannot meet', () => {
    const db = new Database(':memory:');
    for (const fault of ['connection-lost', 'commit-lost', 'statement-timeout'] as const) {
      expect(() => injectDriverFaults(db, injectorFor(fault), { driver: 'better-sqlite3' })).toThrow(
        `The better-sqlite3 driver never fails with "${fault}"`,
      );
    }
    db.close();
    const none: FaultDriver = 'pglite';
    expect(() => injectDriverFaults({}, injectorFor('connection-lost'), { driver: none })).toThrow(TypeError);
  });
});
