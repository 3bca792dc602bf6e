/**
 * A short write transaction (BEGIN, a lock timeout, one UPDATE, COMMIT) through runner.transaction versus
 * the same written by hand with pg. dbop sends BEGIN and the timeout in one simple-protocol batch: three
 * round trips instead of four. Postgres: env DBOP_BENCH_PG_URL, else the test harness's shared primary.
 */
import pg from 'pg';
import { DbOpRunner } from '../src/runner/index.js';
import { pgSession } from '../src/sessions/pg/index.js';
import { benchServerUrls } from './bench-support.js';
import type { BenchSuite } from './suite.js';

async function postgresUrl(): Promise<string> {
  const { postgres } = await benchServerUrls();
  if (postgres === undefined) {
    throw new Error(
      'No Postgres for the benchmark: set DBOP_BENCH_PG_URL or start the test servers (npm run servers)',
    );
  }
  return postgres;
}

const table = `dbop_bench_runner_${process.pid}`;
const url = await postgresUrl();
// Each pair shares one connection (one backend process), so only the client side differs.
const clients = await Promise.all(
  [0, 1].map(async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return client;
  }),
);
const [byHand, byHandFast] = clients as [pg.Client, pg.Client];
const viaRunner = byHand;
const viaRunnerFast = byHandFast;
// Without waiting for the WAL flush at COMMIT, round trips dominate: the effect of batching shows plainly.
await byHandFast.query('SET synchronous_commit = off');
await byHand.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v INT NOT NULL)`);
await byHand.query(`INSERT INTO ${table} VALUES (1, 0), (2, 0), (3, 0), (4, 0)`);
const runner = new DbOpRunner({ defaultLockTimeoutMs: 10_000 });
const session = pgSession(viaRunner);
const sessionFast = pgSession(viaRunnerFast);
const update = `UPDATE ${table} SET v = v + 1 WHERE id = $1`;

async function handWritten(client: pg.Client, id: number): Promise<void> {
  await client.query('BEGIN');
  await client.query("SET LOCAL lock_timeout = '10s'");
  try {
    await client.query(update, [id]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
}

export const suite: BenchSuite = {
  name: 'short write transaction on PostgreSQL (BEGIN, lock timeout, UPDATE, COMMIT)',
  baseline: 'pg by hand',
  batch: 20,
  timeMs: 3000,
  cases: {
    'pg by hand': () => handWritten(byHand, 1),
    'dbop runner.transaction': () => runner.transaction(session, (s) => s.query(update, [2])),
    'pg by hand, synchronous_commit off': () => handWritten(byHandFast, 3),
    'dbop runner.transaction, synchronous_commit off': () =>
      runner.transaction(sessionFast, (s) => s.query(update, [4])),
  },
  after: async () => {
    const paired = await interleaved([
      [
        'commit flushed',
        () => handWritten(byHand, 1),
        () => runner.transaction(session, (s) => s.query(update, [2])),
      ],
      [
        'synchronous_commit off',
        () => handWritten(byHandFast, 3),
        () => runner.transaction(sessionFast, (s) => s.query(update, [4])),
      ],
    ]);
    const { rows } = await byHand.query(`SELECT id, v FROM ${table} ORDER BY id`);
    await byHand.query(`DROP TABLE ${table}`);
    await Promise.all(clients.map((client) => client.end()));
    return [...paired, `updates applied per case: ${rows.map((row) => row.v).join(', ')}`];
  },
};

/**
 * Load on a shared host drifts over seconds, which skews cases measured one after the other. Alternating
 * short rounds of both sides and taking the median of the per-round ratios cancels the drift.
 */
async function interleaved(
  pairs: readonly (readonly [string, () => Promise<unknown>, () => Promise<unknown>])[],
): Promise<string[]> {
  const lines: string[] = [];
  for (const [label, hand, dbop] of pairs) {
    const ratios: number[] = [];
    for (let round = 0; round < 21; round++) {
      const order = round % 2 === 0 ? [hand, dbop] : [dbop, hand];
      const times: number[] = [];
      for (const side of order) {
        const started = performance.now();
        for (let i = 0; i < 50; i++) await side();
        times.push(performance.now() - started);
      }
      const [first, second] = times as [number, number];
      ratios.push(round % 2 === 0 ? second / first : first / second);
    }
    ratios.sort((a, b) => a - b);
    const median = ratios[Math.floor(ratios.length / 2)]!;
    lines.push(
      `interleaved, ${label}: dbop/hand time ratio median ${median.toFixed(3)} over 21 rounds of 50 calls`,
    );
  }
  lines.push(
    'round trips per transaction: by hand 4 (BEGIN, SET LOCAL, UPDATE, COMMIT), dbop 3 (BEGIN+timeout batched)',
  );
  return lines;
}
