import { afterEach, expect, it } from 'vitest';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import { describeIfPostgres, type PgCluster, type PgServer, startPostgres } from '../../support/servers.js';
import {
  createTransferTables,
  expectNothingLostOrDoubled,
  type Outcome,
  sleep,
  transfersDuring,
} from './fixtures/transfer-workload.js';

const hostsOf = (servers: readonly PgServer[]): string => servers.map((s) => `127.0.0.1:${s.port}`).join(',');

async function lsnReached(standby: PgServer, lsn: string): Promise<void> {
  const db = await createDatabase(standby.url);
  try {
    for (let i = 0; i < 600; i += 1) {
      const { rows } = await db.query<{ ok: boolean }>(
        'SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn) AS ok',
        { lsn },
      );
      if (rows[0]!.ok) return;
      await sleep(50);
    }
    throw new Error(`standby on ${standby.port} did not replay up to ${lsn}`);
  } finally {
    await db.close();
  }
}

// Issue 11: a multi-host URL with default settings rides out a promote of a standby during a transfer
// workload: nothing acknowledged lost, nothing doubled, no write on the demoted primary, resumes by itself.
describeIfPostgres('multi-host URL through a pg_ctl promote (private primary + 2 standbys)', () => {
  let cluster: PgCluster | undefined;
  const open: Database[] = [];
  /** Checks the outcome on the promoted standby: nothing lost or doubled, commits after the promote. */
  const resumedOnNewPrimary = async (promoted: PgServer, outcome: Outcome, promotedAt: number) => {
    const after = await createDatabase(promoted.url);
    open.push(after);
    await expectNothingLostOrDoubled(after, outcome);
    expect(outcome.committed.filter((c) => c.at > promotedAt).length).toBeGreaterThan(0);
    return after;
  };
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((db) => db.close()));
    await cluster?.destroy();
    cluster = undefined;
  });

  it('failover: the primary stops (fast), a standby is promoted: 0 lost, 0 doubled, resumes by itself', async () => {
    cluster = await startPostgres({ standbys: 2 });
    const { primary, standbys } = cluster;
    const url = `postgres://postgres@${hostsOf([primary, ...standbys])}/dbop`;
    const db = await createDatabase(url);
    open.push(db);
    await createTransferTables(db);
    await lsnReached(standbys[0]!, await currentLsn(db));
    let promotedAt = 0;
    const outcome = await transfersDuring(db, async () => {
      await primary.stop('fast');
      await standbys[0]!.promote();
      promotedAt = performance.now();
    });
    await resumedOnNewPrimary(standbys[0]!, outcome, promotedAt);
    expect((await db.query<{ port: number }>('SELECT inet_server_port() AS port')).rows[0]!.port).toBe(
      standbys[0]!.port,
    );
  });

  it('switchover: the primary is demoted (read-only, left running), a standby promoted: no write lands on the old primary', async () => {
    cluster = await startPostgres({ standbys: 2 });
    const { primary, standbys } = cluster;
    const url = `postgres://postgres@${hostsOf([primary, ...standbys])}/dbop`;
    const db = await createDatabase(url);
    const old = await createDatabase(primary.url);
    open.push(db, old);
    await createTransferTables(db);
    let ledgerAtDemotion = -1;
    let promotedAt = 0;
    const outcome = await transfersDuring(db, async () => {
      // Demote: new transactions on the old primary are read-only from now on (25006 on their first
      // write); wait for the ones already open to end, and for the standby to replay everything.
      await old.query('ALTER SYSTEM SET default_transaction_read_only = on');
      await old.query('SELECT pg_reload_conf()');
      for (let i = 0; i < 600; i += 1) {
        const { rows } = await old.query<{ n: unknown }>(
          "SELECT count(*) AS n FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND datname = 'dbop'",
        );
        if (Number(rows[0]!.n) === 0) break;
        await sleep(20);
      }
      await lsnReached(standbys[0]!, await currentLsn(old));
      ledgerAtDemotion = await ledgerCount(old);
      await standbys[0]!.promote();
      promotedAt = performance.now();
    });
    const after = await resumedOnNewPrimary(standbys[0]!, outcome, promotedAt);
    // The old primary took no write after its demotion, though it stayed reachable and dbop's pool held
    // connections to it: every later transfer is on the new primary only.
    expect(await ledgerCount(old)).toBe(ledgerAtDemotion);
    expect(await ledgerCount(after)).toBeGreaterThan(ledgerAtDemotion);
    // Those pooled connections met 25006 (read-only) and were retried on the new primary.
    expect(db.stats().errors.byCode['postgres:25006'] ?? 0).toBeGreaterThan(0);
  });
});

async function currentLsn(db: Database): Promise<string> {
  return (await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
}

async function ledgerCount(db: Database): Promise<number> {
  return Number((await db.query<{ n: unknown }>('SELECT count(*) AS n FROM ledger')).rows[0]!.n);
}
