/**
 * What verifying a lost COMMIT costs a write transaction on PostgreSQL (BEGIN + lock timeout, one INSERT,
 * COMMIT). dbop reads the transaction id in the COMMIT batch; the server history that goes with it
 * (pg_control_system(), pg_walfile_name()) is read once per connection. The same three round trips written
 * by hand with pg show the SQL alone: the id query with the history every transaction (what dbop sent
 * before), the id alone (what it sends now), none. Env DBOP_BENCH_PG_URL, else `npm run servers start`'s
 * primary.
 */
import pg from 'pg';
import {
  postgresTransactionHistory,
  postgresTransactionIdQuery,
} from '../src/dialects/postgres/postgres-commit-lookup.js';
import { DbOpRunner } from '../src/runner/index.js';
import { pgSession } from '../src/sessions/pg/index.js';
import { benchServerUrls } from './bench-support.js';
import type { BenchSuite } from './suite.js';

const { postgres: url } = await benchServerUrls();
if (url === undefined) {
  throw new Error('No Postgres for the benchmark: set DBOP_BENCH_PG_URL or start the test servers');
}

const table = `dbop_bench_history_${process.pid}`;
const sidecar = new pg.Pool({ connectionString: url, max: 1 });
const [hand, verified] = await Promise.all(
  [0, 1].map(async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return client;
  }),
);
await hand!.query(`CREATE TABLE ${table} (id BIGSERIAL PRIMARY KEY, v INT NOT NULL)`);
const insert = `INSERT INTO ${table} (v) VALUES ($1)`;
const runner = new DbOpRunner({ defaultLockTimeoutMs: 10_000 });
const session = pgSession(verified!, { sidecar });

/** dbop's three round trips by hand: BEGIN with the timeout, the INSERT, `idQuery` (if any) with COMMIT. */
async function byHand(idQuery: string | undefined): Promise<void> {
  await hand!.query("BEGIN;\nSELECT set_config('lock_timeout', '10000', true)");
  await hand!.query(insert, [1]);
  await hand!.query(idQuery === undefined ? 'COMMIT' : `${idQuery};\nCOMMIT`);
}

const cases = {
  'pg by hand, no id': () => byHand(undefined),
  'pg by hand, id + history every transaction (dbop before)': () =>
    byHand(postgresTransactionHistory.transactionIdQuery),
  'pg by hand, id only (dbop now)': () => byHand(postgresTransactionIdQuery),
  'dbop runner.transaction, COMMIT verified': () => runner.transaction(session, (s) => s.query(insert, [2])),
};

export const suite: BenchSuite = {
  name: 'write transaction on PostgreSQL with lost-COMMIT verification (BEGIN+timeout, INSERT, id+COMMIT)',
  baseline: 'pg by hand, no id',
  batch: 20,
  timeMs: 3000,
  cases,
  after: async () => {
    const lines = await interleavedMedians(Object.entries(cases));
    await hand!.query(`DROP TABLE ${table}`);
    await Promise.all([hand!.end(), verified!.end(), sidecar.end()]);
    return lines;
  },
};

/**
 * Load on a shared host drifts over seconds: every case runs a short round in turn (order rotated), and each
 * case's per-transaction time is the median over the rounds.
 */
async function interleavedMedians(
  entries: readonly (readonly [string, () => Promise<unknown>])[],
): Promise<string[]> {
  const rounds = 31;
  const calls = 40;
  const perCase = entries.map((): number[] => []);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < entries.length; k++) {
      const index = (k + round) % entries.length;
      const started = performance.now();
      for (let i = 0; i < calls; i++) await entries[index]![1]();
      perCase[index]!.push(((performance.now() - started) * 1000) / calls);
    }
  }
  // Before / now paired per round (adjacent in time): the median of the per-round ratios.
  const ratios = perCase[1]!.map((before, round) => before / perCase[2]![round]!).sort((a, b) => a - b);
  const ratio = `interleaved, id + history every transaction / id only: per-round ratio median ${ratios[Math.floor(ratios.length / 2)]!.toFixed(3)}`;
  return [
    ratio,
    ...entries.map(([name], index) => {
      const times = perCase[index]!.sort((a, b) => a - b);
      const at = (q: number): string => times[Math.floor(q * (times.length - 1))]!.toFixed(0);
      return `interleaved, ${name}: median ${at(0.5)} us per transaction (p25 ${at(0.25)}, p75 ${at(0.75)}; ${rounds} rounds of ${calls})`;
    }),
  ];
}
