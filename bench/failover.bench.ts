/**
 * `npm run bench -- failover [--rounds=5]`: a Postgres failover under a write workload, through a
 * multi-host URL with createDatabase's defaults. Each round starts a private primary + 1 standby, runs 4
 * writers (one INSERT per transaction), stops the primary (fast) 500 ms in and promotes the standby. A probe
 * on its own connection to the standby tries an INSERT in a tight loop: the moment its first one succeeds is
 * when the new primary accepts writes. Reported per round: the time from then to dbop's first committed
 * write (acknowledged to the caller), the failover as the writers saw it (last commit on the old primary to
 * first on the new), and writes lost (acknowledged but absent) and doubled (the ledger's key refuses those).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createDatabase } from '../src/database/create-database.js';
import type { Database } from '../src/database/database.js';
import { type HaCluster, haEnabled, startHaCluster } from '../test/support/harness/ha/ha-cluster.js';
import { startPostgres } from '../test/support/harness/postgres.js';
import type { BenchSuite } from './suite.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Round {
  readonly firstWriteMs: number;
  readonly writersGapMs: number;
  readonly committed: number;
  readonly lost: number;
  readonly failed: number;
  readonly failures: readonly string[];
}

/**
 * 4 writers (one INSERT into `bench_ledger` per db.transaction) through `db` while `fault` runs, 500 ms in;
 * `probe`, connected to the server that will be promoted, tries an INSERT in a loop meanwhile. `leaderUrl`
 * (called after the fault) is where the ledger is checked for lost writes.
 */
async function measure(
  db: Database,
  probe: pg.Client,
  fault: () => Promise<void>,
  leaderUrl: () => Promise<string>,
): Promise<Round> {
  await db.query('DROP TABLE IF EXISTS bench_ledger, bench_probe');
  await db.query('CREATE TABLE bench_ledger (id text PRIMARY KEY)');
  await db.query('CREATE TABLE bench_probe (n int)');
  // The server to be promoted must have the tables before it can take the probe's writes.
  for (;;) {
    const { rows } = await db.query<{ behind: unknown }>(
      'SELECT count(*) AS behind FROM pg_stat_replication WHERE replay_lsn < pg_current_wal_lsn()',
    );
    if (Number(rows[0]!.behind) === 0) break;
    await sleep(10);
  }
  await probe.connect();
  const acked: { id: string; at: number }[] = [];
  const failures: string[] = [];
  let stopping = false;
  const writer = async (): Promise<void> => {
    while (!stopping) {
      const id = randomUUID();
      try {
        await db.transaction((conn) => conn.execute('INSERT INTO bench_ledger (id) VALUES (:id)', { id }));
        acked.push({ id, at: performance.now() });
      } catch (error) {
        failures.push(String((error as { code?: unknown }).code ?? error));
      }
    }
  };
  const writers = Promise.all(Array.from({ length: 4 }, writer));
  await sleep(500);
  let acceptsWritesAt = 0;
  const watcher = (async () => {
    for (;;) {
      const sentAt = performance.now();
      try {
        await probe.query('INSERT INTO bench_probe VALUES (1)');
        acceptsWritesAt = sentAt;
        return;
      } catch {
        await sleep(0); // 25006 until promoted
      }
    }
  })();
  const faultAt = performance.now();
  await fault();
  await watcher;
  await sleep(1000);
  stopping = true;
  await writers;
  const firstAfter = acked.find((a) => a.at >= acceptsWritesAt)!;
  const lastBefore = acked.filter((a) => a.at < faultAt).at(-1)!;
  const check = await createDatabase(await leaderUrl());
  const present = new Set(
    (await check.query<{ id: string }>('SELECT id FROM bench_ledger')).rows.map((r) => r.id),
  );
  await check.close();
  return {
    firstWriteMs: firstAfter.at - acceptsWritesAt,
    writersGapMs: firstAfter.at - lastBefore.at,
    committed: acked.length,
    lost: acked.filter((a) => !present.has(a.id)).length,
    failed: failures.length,
    failures,
  };
}

const probeOn = (port: number): pg.Client =>
  new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'dbop' });

/** A private primary + 1 standby: the primary stops (fast), the standby is promoted. */
async function round(): Promise<Round> {
  const cluster = await startPostgres({ standbys: 1 });
  const { primary } = cluster;
  const standby = cluster.standbys[0]!;
  const db = await createDatabase(
    `postgres://postgres@127.0.0.1:${primary.port},127.0.0.1:${standby.port}/dbop`,
  );
  const probe = probeOn(standby.port);
  try {
    return await measure(
      db,
      probe,
      async () => {
        await primary.stop('fast');
        await standby.promote();
      },
      async () => standby.url,
    );
  } finally {
    await probe.end().catch(() => undefined);
    await db.close();
    await cluster.destroy();
  }
}

/**
 * A Patroni switchover (the harness's three members, synchronous mode) through `url`; the probe writes on
 * the switchover's candidate, which Patroni promotes in place.
 */
async function haRound(cluster: HaCluster, url: string): Promise<Round> {
  const db = await createDatabase(url);
  const members = await cluster.members();
  const candidate =
    members.find((m) => m.role === 'sync_standby') ?? members.find((m) => m.role !== 'leader')!;
  const probe = probeOn(candidate.port);
  try {
    return await measure(
      db,
      probe,
      async () => {
        await cluster.switchover(candidate.name);
      },
      async () => (await cluster.leader()).urlFor(),
    );
  } finally {
    await probe.end().catch(() => undefined);
    await db.close();
  }
}

function printRounds(title: string, results: readonly Round[]): void {
  console.log(`\n## ${title}\n`);
  console.log(
    '| round | new primary accepts writes -> first dbop commit (ms) | writers: last old commit -> first new (ms) | committed | lost | failed |',
  );
  console.log('|---|---|---|---|---|---|');
  results.forEach((r, i) => {
    console.log(
      `| ${i + 1} | ${r.firstWriteMs.toFixed(1)} | ${r.writersGapMs.toFixed(0)} | ${r.committed} | ${r.lost} | ${r.failed} |`,
    );
  });
  const first = results.map((r) => r.firstWriteMs);
  const codes = results.flatMap((r) => r.failures);
  if (codes.length > 0) console.log(`\nfailed calls (error code): ${codes.join(', ')}`);
  console.log(
    `\nmedian ${median(first).toFixed(1)} ms (min ${Math.min(...first).toFixed(1)}, max ${Math.max(...first).toFixed(1)}); lost ${results.reduce((n, r) => n + r.lost, 0)}, failed ${codes.length}`,
  );
}

const median = (values: readonly number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export const suite: BenchSuite = {
  name: 'failover',
  cases: {},
  async run(flags) {
    const rounds = Number(flags.find((f) => f.startsWith('--rounds='))?.slice(9) ?? 5);
    const results: Round[] = [];
    for (let i = 0; i < rounds; i += 1) results.push(await round());
    printRounds(
      `Postgres failover through a multi-host URL (createDatabase defaults, ${rounds} rounds)`,
      results,
    );
    if (!haEnabled) {
      console.log('\n(Patroni switchover through HAProxy and a multi-host URL: set DBOP_HA=1)');
      return;
    }
    const cluster = await startHaCluster(3);
    try {
      const viaProxy: Round[] = [];
      const viaHosts: Round[] = [];
      // Interleaved: one switchover through each, in turn.
      for (let i = 0; i < rounds; i += 1) {
        viaProxy.push(await haRound(cluster, cluster.haproxy.urlFor()));
        await cluster.waitHealthy();
        viaHosts.push(await haRound(cluster, cluster.multiHostUrl()));
        await cluster.waitHealthy();
      }
      printRounds(`Patroni switchover through HAProxy (${rounds} rounds)`, viaProxy);
      printRounds(
        `Patroni switchover through a multi-host URL naming the members (${rounds} rounds)`,
        viaHosts,
      );
    } finally {
      await cluster.destroy();
    }
  },
};
