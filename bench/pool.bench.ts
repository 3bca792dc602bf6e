/**
 * dbop's pool against what people use instead, in one interleaved run:
 * 1. in-process acquire + release per second (no server: connections are plain objects) against pg-pool,
 *    tarn and generic-pool, each with max 10 and the same trivial create/destroy;
 * 2. pooled `SELECT 1` with 8 concurrent callers (max 8), one table per backend, each interleaving the
 *    driver's own pool (pg.Pool, mysql2's, the mariadb connector's), dbop's createPool over the driver's
 *    factory and a createDatabase Database, on the test servers (env DBOP_BENCH_PG_URL and
 *    DBOP_BENCH_MYSQL_URL, else `npm run servers start`'s);
 * 3. after the first table: heap before and after 10^6 acquire/release cycles of dbop's pool.
 * `npm run bench -- pool`
 */
import { EventEmitter } from 'node:events';
import genericPool from 'generic-pool';
import mariadb from 'mariadb';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { Pool as TarnPool } from 'tarn';
import { createDatabase } from '../src/database/create-database.js';
import type { Database } from '../src/database/database.js';
import {
  createPool,
  mariadbFactory,
  mysql2Factory,
  type Pool,
  type PoolFactory,
  pgFactory,
} from '../src/pool/index.js';
import { benchServerUrls, heapAfterGc } from './bench-support.js';
import type { BenchSuite } from './suite.js';

// --- 1. in process ---------------------------------------------------------------------------------------
interface Thing {
  readonly id: number;
}
let made = 0;
const thingFactory: PoolFactory<Thing> = {
  create: async () => ({ id: made++ }),
  destroy: () => {},
  status: () => 'idle',
};
const dbopPool = createPool(thingFactory, { max: 10, name: 'bench' });

// pg-pool needs a Client class: the smallest one it accepts, connecting at once.
class FakeClient extends EventEmitter {
  connect(callback: (error?: Error) => void): void {
    process.nextTick(callback);
  }
  end(callback?: () => void): void {
    if (callback) process.nextTick(callback);
  }
}
// pg.Pool is pg-pool with pg's Client by default.
const pgPool = new pg.Pool({ Client: FakeClient as never, max: 10 });
const tarn = new TarnPool<Thing>({ create: () => ({ id: made++ }), destroy: () => {}, min: 0, max: 10 });
const generic = genericPool.createPool<Thing>(
  { create: async () => ({ id: made++ }), destroy: async () => {} },
  { max: 10 },
);

const inProcess: BenchSuite = {
  name: 'in-process acquire + release (max 10, one caller)',
  baseline: 'dbop createPool',
  cases: {
    'dbop createPool': async () => {
      const thing = await dbopPool.acquire();
      dbopPool.release(thing);
    },
    'dbop acquireLease (per-checkout lease)': async () => {
      (await dbopPool.acquireLease()).release();
    },
    'pg-pool': async () => {
      const client = await pgPool.connect();
      client.release();
    },
    tarn: async () => {
      const thing = await tarn.acquire().promise;
      tarn.release(thing);
    },
    'generic-pool': async () => {
      const thing = await generic.acquire();
      await generic.release(thing);
    },
  },
  after: async () => {
    const heap = heapAfterGc();
    const pool = createPool(thingFactory, { max: 10, name: 'heap' });
    // Warm up: the pool's connections and the JIT exist before the first reading.
    for (let i = 0; i < 10_000; i++) pool.release(await pool.acquire());
    const before = heap();
    for (let i = 0; i < 1_000_000; i++) pool.release(await pool.acquire());
    const after = heap();
    await pool.close();
    const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(2);
    return [
      '',
      `heap used before / after 10^6 acquire+release cycles of dbop's pool: ${mb(before)} MB / ${mb(after)} MB (${after >= before ? '+' : ''}${((after - before) / 1024).toFixed(0)} KB)`,
    ];
  },
};

// --- 2. on servers ---------------------------------------------------------------------------------------
const eight = (call: () => Promise<unknown>): Promise<unknown[]> =>
  Promise.all([call(), call(), call(), call(), call(), call(), call(), call()]);

/** One backend's table: the driver's own pool (the baseline), dbop's createPool, dbop's createDatabase. */
function backendSuite<C extends { query(sql: string): Promise<unknown> }>(
  backend: string,
  native: [string, () => Promise<unknown>],
  pool: Pool<C>,
  db: Database,
  close: () => Promise<unknown>,
): BenchSuite {
  return {
    name: `pooled SELECT 1 on ${backend}, 8 concurrent callers (max 8); one call = 8 statements`,
    baseline: native[0],
    batch: 20,
    cases: {
      [native[0]]: () => eight(native[1]),
      [`dbop createPool use (${backend})`]: () => eight(() => pool.use((c) => c.query('SELECT 1'))),
      [`dbop createDatabase db.query (${backend})`]: () => eight(() => db.query('SELECT 1')),
    },
    after: async () => {
      await Promise.all([close(), pool.close(), db.close()]);
      return [];
    },
  };
}

async function serverSuites(): Promise<BenchSuite[]> {
  const found = await benchServerUrls();
  if (found.postgres === undefined || found.mysql === undefined) {
    console.log(
      '\n(pooled SELECT 1 skipped: no servers; set DBOP_BENCH_PG_URL and DBOP_BENCH_MYSQL_URL or run npm run servers start)',
    );
    return [];
  }
  const pgUrl = new URL(found.postgres);
  const myUrl = new URL(found.mysql);
  const pgConfig = {
    host: pgUrl.hostname,
    port: Number(pgUrl.port),
    user: decodeURIComponent(pgUrl.username),
    database: pgUrl.pathname.slice(1),
  };
  const myConfig = {
    host: myUrl.hostname,
    port: Number(myUrl.port),
    user: decodeURIComponent(myUrl.username),
    password: decodeURIComponent(myUrl.password),
    database: myUrl.pathname.slice(1),
  };
  const pgNative = new pg.Pool({ ...pgConfig, max: 8 });
  const myNative = mysql.createPool({ ...myConfig, connectionLimit: 8 });
  const mariaNative = mariadb.createPool({ ...myConfig, connectionLimit: 8 });
  // The Databases as an application opens them (retries, limiter and all), on the same servers.
  const dbOf = (url: string) => createDatabase({ url, max: 8 });
  return [
    backendSuite(
      'postgres',
      ['pg.Pool query', () => pgNative.query('SELECT 1')],
      createPool(pgFactory(pgConfig, { driver: pg }), { max: 8, name: 'pg' }),
      await dbOf(found.postgres),
      () => pgNative.end(),
    ),
    backendSuite(
      'mysql2',
      ['mysql2 pool query', () => myNative.query('SELECT 1')],
      createPool(mysql2Factory(myConfig, { driver: mysql }), { max: 8, name: 'mysql2' }),
      await dbOf(found.mysql),
      () => myNative.end(),
    ),
    backendSuite(
      'mariadb',
      ['mariadb pool query', () => mariaNative.query('SELECT 1')],
      createPool(mariadbFactory(myConfig, { driver: mariadb }), { max: 8, name: 'mariadb' }),
      await dbOf(found.mysql.replace(/^mysql:/, 'mariadb:')),
      () => mariaNative.end(),
    ),
  ];
}

export const suites: readonly BenchSuite[] = [inProcess, ...(await serverSuites())];
