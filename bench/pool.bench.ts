/**
 * dbop's pool against what people use instead, in one interleaved run:
 * 1. in-process acquire + release per second (no server: connections are plain objects) against pg-pool,
 *    tarn and generic-pool, each with max 10 and the same trivial create/destroy;
 * 2. pooled `SELECT 1` with 8 concurrent callers (max 8) against pg.Pool and mysql2's pool, on the test
 *    servers (env DBOP_BENCH_PG_URL and DBOP_BENCH_MYSQL_URL, else `npm run servers start`'s);
 * 3. after the first table: heap before and after 10^6 acquire/release cycles of dbop's pool.
 * `npm run bench -- pool`
 */
import { EventEmitter } from 'node:events';
import genericPool from 'generic-pool';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { Pool as TarnPool } from 'tarn';
import { createPool, mysql2Factory, type PoolFactory, pgFactory } from '../src/pool/index.js';
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
async function serverSuite(): Promise<BenchSuite | undefined> {
  const found = await benchServerUrls();
  if (found.postgres === undefined || found.mysql === undefined) {
    console.log(
      '\n(pooled SELECT 1 skipped: no servers; set DBOP_BENCH_PG_URL and DBOP_BENCH_MYSQL_URL or run npm run servers start)',
    );
    return undefined;
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
  const pgDbop = createPool(pgFactory(pgConfig, { driver: pg }), { max: 8, name: 'pg' });
  const myNative = mysql.createPool({ ...myConfig, connectionLimit: 8 });
  const myDbop = createPool(mysql2Factory(myConfig, { driver: mysql }), { max: 8, name: 'mysql2' });
  const myDbopTrusted = createPool(mysql2Factory(myConfig, { driver: mysql }), {
    max: 8,
    name: 'mysql2-no-probe',
    reset: 'never',
  });
  const eight = (call: () => Promise<unknown>): Promise<unknown[]> =>
    Promise.all([call(), call(), call(), call(), call(), call(), call(), call()]);
  return {
    name: 'pooled SELECT 1, 8 concurrent callers (max 8); one call = 8 statements',
    baseline: 'pg.Pool query',
    batch: 20,
    cases: {
      'pg.Pool query': () => eight(() => pgNative.query('SELECT 1')),
      'dbop createPool(pgFactory) use': () => eight(() => pgDbop.use((client) => client.query('SELECT 1'))),
      'mysql2 pool query': () => eight(() => myNative.query('SELECT 1')),
      'dbop createPool(mysql2Factory) use': () =>
        eight(() => myDbop.use((connection) => connection.query('SELECT 1'))),
      "dbop mysql2Factory, reset 'never' (no DO 0 probe)": () =>
        eight(() => myDbopTrusted.use((connection) => connection.query('SELECT 1'))),
    },
    after: async () => {
      await Promise.all([
        pgNative.end(),
        pgDbop.close(),
        myNative.end(),
        myDbop.close(),
        myDbopTrusted.close(),
      ]);
      return [];
    },
  };
}

const onServers = await serverSuite();
export const suites: readonly BenchSuite[] = onServers === undefined ? [inProcess] : [inProcess, onServers];
