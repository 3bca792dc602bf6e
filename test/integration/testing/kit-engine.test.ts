import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isDbopError } from '../../../src/core/errors.js';
import type { Session, SessionSource } from '../../../src/core/session.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { mysql2Session } from '../../../src/sessions/mysql2/index.js';
import { pgPoolSource } from '../../../src/sessions/pg/index.js';
import { type Fault, FaultInjector, type FaultRule, injectPoolFaults } from '../../../src/testing/index.js';
import { describeIfMariadb, describeIfPostgres, sharedServers } from '../../support/servers.js';
import { failure, uniqueName } from '../classify/drivers.js';

// What the engine does with each injected fault, on real sessions over real connections: retried where the
// fault is transient, a lost COMMIT settled by asking the server, nothing applied twice, nothing left open.

const runner = new DbOpRunner({ maxRetries: 4, initialDelayMs: 1, maxDelayMs: 5, limiter: false });

/** The retried fault cases every server runs: each strikes the UPDATE (or the COMMIT) once. */
const transient: readonly (readonly [string, FaultRule])[] = [
  ['serialization', { fault: 'serialization', statement: 'UPDATE', times: 1 }],
  ['deadlock', { fault: 'deadlock', statement: 'UPDATE', times: 1 }],
  ['lock timeout', { fault: 'lock-timeout', statement: 'UPDATE', times: 1 }],
  ['statement timeout', { fault: 'statement-timeout', statement: 'UPDATE', times: 1 }],
  ['connection lost before a statement', { fault: 'connection-lost', statement: 'UPDATE', times: 1 }],
  ['server shutting down', { fault: 'server-shutdown', statement: 'UPDATE', times: 1 }],
  ['too many connections', { fault: 'too-many-connections', times: 1 }],
];

describeIfPostgres('dbop/testing: the engine against injected faults (pg)', () => {
  const url = (): string => sharedServers().postgres!.primary.url;
  const table = uniqueName('kit_eng');
  const app = uniqueName('kit_app');
  let pool: pg.Pool;
  let admin: pg.Client;

  const balance = async (): Promise<number> =>
    (await admin.query<{ v: number }>(`SELECT v FROM ${table} WHERE id = 1`)).rows[0]!.v;

  /** One transfer-like unit through a pool whose connections fail as `rules` say; how many times fn ran. */
  const unit = async (rules: readonly FaultRule[]): Promise<{ calls: number; faults: FaultInjector }> => {
    const faults = new FaultInjector({ seed: 3, rules });
    const source = pgPoolSource(injectPoolFaults(pool, faults, { driver: 'pg' }));
    let calls = 0;
    await runner.transaction(source, async (session) => {
      calls += 1;
      await session.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`);
    });
    return { calls, faults };
  };

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url(), max: 4, application_name: app });
    pool.on('error', () => {});
    admin = new pg.Client({ connectionString: url() });
    await admin.connect();
    await admin.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v int NOT NULL)`);
    await admin.query(`INSERT INTO ${table} VALUES (1, 0)`);
  });

  afterAll(async () => {
    await pool.end();
    // No connection of ours left on the server, whatever the faults closed (a backend takes a moment to exit).
    const ours = async (): Promise<number> =>
      (
        await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [
          app,
        ])
      ).rows[0]!.n;
    let left = await ours();
    for (let i = 0; i < 50 && left > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = await ours();
    }
    expect(left).toBe(0);
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.end();
  });

  it.each(transient)('%s: retried, applied exactly once', async (_name, rule) => {
    const before = await balance();
    const { calls, faults } = await unit([rule]);
    expect(faults.injected.map((f) => f.fault)).toEqual([rule.fault]);
    expect(calls).toBe(rule.fault === 'too-many-connections' ? 1 : 2);
    expect(await balance()).toBe(before + 1);
  });

  it('COMMIT lost after it landed: the session asks the server (pg_xact_status) and reports success, no retry', async () => {
    const before = await balance();
    const { calls, faults } = await unit([{ fault: 'commit-lost', committed: true, times: 1 }]);
    expect(faults.injected).toMatchObject([{ fault: 'commit-lost', committed: true }]);
    expect(calls).toBe(1);
    expect(await balance()).toBe(before + 1);
  });

  it('COMMIT lost before it reached the server: the id is read in the COMMIT round trip, so nothing can be asked: AmbiguousCommitError, nothing applied', async () => {
    const before = await balance();
    const error = await failure(unit([{ fault: 'commit-lost', committed: false, times: 1 }]));
    expect(isDbopError(error, 'DBOP_AMBIGUOUS_COMMIT')).toBe(true);
    expect(await balance()).toBe(before);
  });

  it('read-only after failover: not retried, the driver error itself reaches the caller', async () => {
    const before = await balance();
    const error = await failure(unit([{ fault: 'read-only', statement: 'UPDATE' }]));
    expect(error).toMatchObject({ code: '25006', severity: 'ERROR' });
    expect(await balance()).toBe(before);
  });

  it('a fault on every attempt: the retries run out and the last error is thrown', async () => {
    const before = await balance();
    const faults = new FaultInjector({ rules: [{ fault: 'serialization', statement: 'UPDATE' }] });
    const source = pgPoolSource(injectPoolFaults(pool, faults, { driver: 'pg' }));
    const error = await failure(
      runner.transaction(source, (session) => session.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`)),
    );
    expect(error).toMatchObject({ code: '40001' });
    expect(faults.injected).toHaveLength(5);
    expect(await balance()).toBe(before);
  });

  it('a Postgres transaction an injected error struck is really aborted: swallowing it does not commit', async () => {
    const before = await balance();
    const faults = new FaultInjector({
      rules: [{ fault: 'lock-timeout', statement: 'kit_swallowed', times: 1 }],
    });
    const source = pgPoolSource(injectPoolFaults(pool, faults, { driver: 'pg' }));
    const error = await failure(
      new DbOpRunner({ maxRetries: 0, limiter: false }).transaction(source, async (session) => {
        await session.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`);
        await session.query('SELECT 1 AS kit_swallowed').catch(() => undefined);
      }),
    );
    // As on a real server: COMMIT of an aborted transaction rolls back, and the session says so.
    expect(error).toMatchObject({ code: '55P03' });
    expect(await balance()).toBe(before);
  });
});

/** A SessionSource over a mysql2 pool, as an application would write it. */
function mysqlSource(pool: mysql.Pool, sidecar: mysql.Pool, verifyCommits: boolean): SessionSource {
  return {
    async acquire(): Promise<Session> {
      const connection = await pool.getConnection();
      return mysql2Session(connection, { sidecar, verifyCommits });
    },
    async release(session: Session): Promise<void> {
      const connection = session.raw as mysql.PoolConnection;
      if (session.destroyed || session.inTransaction()) connection.destroy();
      else connection.release();
    },
  };
}

describeIfMariadb('dbop/testing: the engine against injected faults (mysql2 on MariaDB)', () => {
  const table = uniqueName('kit_eng');
  let pool: mysql.Pool;
  let admin: mysql.Connection;

  const values = async (): Promise<number[]> => {
    const [rows] = await admin.query(`SELECT v FROM ${table} ORDER BY id`);
    return (rows as { v: number }[]).map((r) => r.v);
  };

  const unit = async (
    rules: readonly FaultRule[],
    verifyCommits = false,
  ): Promise<{ calls: number; faults: FaultInjector }> => {
    const faults = new FaultInjector({ seed: 5, rules });
    const source = mysqlSource(injectPoolFaults(pool, faults, { driver: 'mysql2' }), pool, verifyCommits);
    let calls = 0;
    await runner.transaction(source, async (session) => {
      calls += 1;
      await session.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`);
      await session.query(`UPDATE ${table} SET v = v + 1 WHERE id = 2`);
    });
    return { calls, faults };
  };

  beforeAll(async () => {
    const u = new URL(sharedServers().mariadb!.url);
    const options = {
      host: u.hostname,
      port: Number(u.port),
      user: u.username,
      password: decodeURIComponent(u.password),
      database: u.pathname.slice(1),
    };
    pool = mysql.createPool({ ...options, connectionLimit: 4 });
    pool.on('connection', (c) => c.on('error', () => {}));
    admin = await mysql.createConnection(options);
    await admin.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB`);
    await admin.query(`INSERT INTO ${table} VALUES (1, 0), (2, 0)`);
  });

  afterAll(async () => {
    await pool.end();
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.end();
  });

  it.each(
    transient.map(
      ([name, rule]) => [name, { ...rule, ...(rule.statement ? { statement: 'id = 2' } : {}) }] as const,
    ),
  )('%s: retried, both rows applied exactly once', async (_name, rule) => {
    const [a, b] = await values();
    const { calls, faults } = await unit([rule]);
    expect(faults.injected.map((f) => f.fault)).toEqual([rule.fault as Fault]);
    expect(calls).toBe(rule.fault === 'too-many-connections' ? 1 : 2);
    // A deadlock rolled the first UPDATE back with the whole transaction, as InnoDB does: not doubled.
    expect(await values()).toEqual([a! + 1, b! + 1]);
  });

  it.each([true, false])(
    'COMMIT lost (committed: %s), without verification: AmbiguousCommitError, never a plain failure',
    async (committed) => {
      const [a, b] = await values();
      const error = await failure(unit([{ fault: 'commit-lost', committed, times: 1 }]));
      expect(isDbopError(error, 'DBOP_AMBIGUOUS_COMMIT')).toBe(true);
      expect(await values()).toEqual(committed ? [a! + 1, b! + 1] : [a, b]);
    },
  );

  it('COMMIT lost before it landed, with verifyCommits: no marker row, so retried, applied once', async () => {
    const [a, b] = await values();
    const { calls } = await unit([{ fault: 'commit-lost', committed: false, times: 1 }], true);
    expect(calls).toBe(2);
    expect(await values()).toEqual([a! + 1, b! + 1]);
  });

  it('COMMIT lost after it landed, with verifyCommits: the marker row is found, success without a retry', async () => {
    const [a, b] = await values();
    const { calls } = await unit([{ fault: 'commit-lost', committed: true, times: 1 }], true);
    expect(calls).toBe(1);
    expect(await values()).toEqual([a! + 1, b! + 1]);
  });
});
