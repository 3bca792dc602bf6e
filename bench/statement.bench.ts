/**
 * The everyday path: one statement through db.query versus the driver's own pool, on PostgreSQL (pg) and
 * MariaDB (mysql2), `SELECT 1` and a one-row UPDATE. Both sides hold one pooled connection, so only the
 * client side and what it sends differ. After the table: interleaved time ratios, and what each call sends
 * (round trips counted at pg's Client.query, statements at MariaDB's Questions counter, transaction ids
 * from Postgres's next-xid before and after). Servers: env DBOP_BENCH_PG_URL and DBOP_BENCH_MYSQL_URL,
 * else the test harness's (npm run servers start).
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createDatabase } from '../src/index.js';
import { benchServerUrls } from './bench-support.js';
import type { BenchSuite } from './suite.js';

async function urls(): Promise<{ postgres: string; mysql: string }> {
  const { postgres, mysql } = await benchServerUrls();
  if (postgres === undefined || mysql === undefined) {
    throw new Error(
      'No servers: set DBOP_BENCH_PG_URL and DBOP_BENCH_MYSQL_URL, or run npm run servers start',
    );
  }
  return { postgres, mysql };
}

const { postgres: pgUrl, mysql: mysqlUrl } = await urls();
const table = `dbop_bench_statement_${process.pid}`;

const pgPool = new pg.Pool({ connectionString: pgUrl, max: 1 });
const pgAdmin = new pg.Client({ connectionString: pgUrl });
await pgAdmin.connect();
const pgDb = await createDatabase({ url: pgUrl, max: 1 });
await pgAdmin.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v INT NOT NULL)`);
await pgAdmin.query(`INSERT INTO ${table} VALUES (1, 0), (2, 0)`);

const myPool = mysql.createPool({ uri: mysqlUrl, connectionLimit: 1 });
const myAdmin = await mysql.createConnection({ uri: mysqlUrl });
const myDb = await createDatabase({ url: mysqlUrl, max: 1 });
const myDbVerified = await createDatabase({ url: mysqlUrl, max: 1, verifyCommits: true });
await myAdmin.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB`);
await myAdmin.query(`INSERT INTO ${table} VALUES (1, 0), (2, 0)`);

const cases = {
  'pg pool.query SELECT 1': () => pgPool.query('SELECT 1'),
  "dbop db.query('SELECT 1'), postgres": () => pgDb.query('SELECT 1'),
  'pg pool.query UPDATE': () => pgPool.query(`UPDATE ${table} SET v = v + 1 WHERE id = $1`, [1]),
  'dbop db.query UPDATE, postgres': () =>
    pgDb.query(`UPDATE ${table} SET v = v + 1 WHERE id = :id`, { id: 2 }),
  'mysql2 pool.query SELECT 1': () => myPool.query('SELECT 1'),
  "dbop db.query('SELECT 1'), mariadb": () => myDb.query('SELECT 1'),
  'mysql2 pool.query UPDATE': () => myPool.query(`UPDATE ${table} SET v = v + 1 WHERE id = ?`, [1]),
  'dbop db.transaction UPDATE, mariadb': () =>
    myDb.transaction((conn) => conn.execute(`UPDATE ${table} SET v = v + 1 WHERE id = 2`)),
  'dbop db.transaction UPDATE, mariadb, verifyCommits': () =>
    myDbVerified.transaction((conn) => conn.execute(`UPDATE ${table} SET v = v + 1 WHERE id = 2`)),
  'dbop db.query UPDATE, mariadb': () =>
    myDb.query(`UPDATE ${table} SET v = v + 1 WHERE id = :id`, { id: 2 }),
} as const;
type CaseName = keyof typeof cases;

const pairs: ReadonlyArray<readonly [string, CaseName, CaseName]> = [
  ['postgres SELECT 1', 'pg pool.query SELECT 1', "dbop db.query('SELECT 1'), postgres"],
  ['postgres UPDATE', 'pg pool.query UPDATE', 'dbop db.query UPDATE, postgres'],
  ['mariadb SELECT 1', 'mysql2 pool.query SELECT 1', "dbop db.query('SELECT 1'), mariadb"],
  ['mariadb UPDATE', 'mysql2 pool.query UPDATE', 'dbop db.query UPDATE, mariadb'],
  [
    'mariadb transaction, verifyCommits on versus off',
    'dbop db.transaction UPDATE, mariadb',
    'dbop db.transaction UPDATE, mariadb, verifyCommits',
  ],
];

export const suite: BenchSuite = {
  name: 'one statement: db.query versus the driver pool (one connection each)',
  baseline: 'pg pool.query SELECT 1',
  batch: 20,
  timeMs: 2000,
  cases,
  after: async () => {
    const lines = [...(await interleaved()), ...(await sent())];
    await pgAdmin.query(`DROP TABLE ${table}`);
    await myAdmin.query(`DROP TABLE ${table}`);
    await Promise.all([
      pgPool.end(),
      pgAdmin.end(),
      pgDb.close(),
      myPool.end(),
      myAdmin.end(),
      myDb.close(),
      myDbVerified.close(),
    ]);
    return lines;
  },
};

/**
 * Load on a shared host drifts over seconds, and on a busy one from one call to the next: within each round
 * the two sides alternate call by call (the pair's order flipping every call), so both see the same load;
 * the median and quartiles of the per-round ratios of their summed times are the figure to quote.
 */
async function interleaved(): Promise<string[]> {
  const lines: string[] = [];
  const rounds = 31;
  const perRound = 50;
  for (const [label, driver, dbop] of pairs) {
    const ratios: number[] = [];
    for (let i = 0; i < 20; i++) {
      await cases[driver]();
      await cases[dbop]();
    }
    for (let round = 0; round < rounds; round++) {
      let driverMs = 0;
      let dbopMs = 0;
      for (let i = 0; i < perRound; i++) {
        const order = i % 2 === 0 ? [driver, dbop] : [dbop, driver];
        for (const name of order) {
          const started = performance.now();
          await cases[name]();
          const took = performance.now() - started;
          if (name === driver) driverMs += took;
          else dbopMs += took;
        }
      }
      ratios.push(dbopMs / driverMs);
    }
    ratios.sort((a, b) => a - b);
    const at = (q: number): string => ratios[Math.round(q * (ratios.length - 1))]!.toFixed(2);
    lines.push(
      `interleaved call by call, ${label}: time ratio (second/first) median ${at(0.5)} (quartiles ${at(0.25)}-${at(0.75)}, ${rounds} rounds of ${perRound} pairs)`,
    );
  }
  return lines;
}

const calls = 200;

/** Per call: pg round trips and statements (counted at Client.query), xids; MariaDB statements (Questions). */
async function sent(): Promise<string[]> {
  const lines = ['', `what one call sends (average over ${calls} calls):`];
  const query = pg.Client.prototype.query;
  let roundTrips = 0;
  let statements = 0;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    if (this !== pgAdmin) {
      roundTrips += 1;
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string }).text;
      statements += (text ?? '').split(';').length;
    }
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  const nextXid = async (): Promise<number> =>
    Number((await pgAdmin.query('SELECT txid_snapshot_xmax(txid_current_snapshot())::text AS x')).rows[0].x);
  const questions = async (): Promise<number> => {
    const [rows] = await myAdmin.query("SHOW GLOBAL STATUS LIKE 'Questions'");
    return Number((rows as Array<{ Value: string }>)[0]!.Value);
  };
  try {
    for (const [, driver, dbop] of pairs) {
      for (const name of [driver, dbop]) {
        roundTrips = 0;
        statements = 0;
        const xidBefore = await nextXid();
        const questionsBefore = await questions();
        for (let i = 0; i < calls; i++) await cases[name]();
        const xids = (await nextXid()) - xidBefore;
        // The SHOW itself is one question.
        const mysqlStatements = (await questions()) - questionsBefore - 1;
        lines.push(
          name.includes('mariadb') || name.includes('mysql2')
            ? `  ${name}: ${(mysqlStatements / calls).toFixed(2)} statements (each one round trip with mysql2)`
            : `  ${name}: ${(roundTrips / calls).toFixed(2)} round trips, ${(statements / calls).toFixed(2)} statements, ${(xids / calls).toFixed(2)} xids`,
        );
      }
    }
  } finally {
    pg.Client.prototype.query = query;
  }
  return lines;
}
