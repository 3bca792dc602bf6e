import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isAmbiguousCommitError } from '../../../src/core/errors.js';
import type { SessionSource } from '../../../src/core/session.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { pgSession } from '../../../src/sessions/pg/index.js';
import { killWhile } from '../../support/kill-while.js';
import { describeIfPostgres, type PgCluster, startPostgres } from '../../support/servers.js';
import { createSlowCommitTable } from '../../support/slow-commit-table.js';

const table = `dbop_history_${process.pid}`;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function xid(pool: pg.Pool): Promise<bigint> {
  return BigInt((await pool.query<{ x: string }>('SELECT txid_current()::text AS x')).rows[0]!.x);
}

/**
 * A lost COMMIT looked up on a server that does not hold the transaction's history: a standby cut off from
 * its primary, then promoted, has handed the same transaction id to a transaction of its own, which
 * committed. txid_status() there says "committed" about another transaction: trusting it reports a write
 * that never happened as done.
 */
describeIfPostgres('lost COMMIT: the lookup on a server with another history', () => {
  let cluster: PgCluster;
  let oldPrimary: pg.Pool;
  let newPrimary: pg.Pool;

  beforeAll(async () => {
    cluster = await startPostgres({ standbys: 1 });
    oldPrimary = new pg.Pool({ connectionString: cluster.primary.url, max: 4 });
    oldPrimary.on('error', () => undefined);
    await createSlowCommitTable(oldPrimary, table, 3);
    newPrimary = new pg.Pool({ connectionString: cluster.standbys[0]!.url, max: 4 });
    newPrimary.on('error', () => undefined);
    // The standby has the table, then loses its primary (no more WAL) and is promoted: two histories.
    for (let i = 0; ; i += 1) {
      const { rows } = await newPrimary.query(`SELECT to_regclass('${table}_slow') IS NOT NULL AS here`);
      if (rows[0]!.here || i > 200) break;
      await sleep(50);
    }
    await newPrimary.query(`SELECT pg_sleep(0.2)`);
    await newPrimary.query("ALTER SYSTEM SET primary_conninfo = ''");
    await newPrimary.query('SELECT pg_reload_conf()');
    await sleep(500);
    await cluster.standbys[0]!.promote();
  }, 120_000);
  afterAll(async () => {
    await oldPrimary?.end();
    await newPrimary?.end();
    await cluster?.destroy();
  });

  it('does not take "committed" from the promoted server: the outcome is ambiguous, the write is not reported done', async () => {
    // Every pooled connection of the old primary has read and kept its history (one transaction each): the
    // lost COMMIT below is recorded with the kept history, not one read in its own batch.
    const warm = await Promise.all([0, 1, 2, 3].map(() => oldPrimary.connect()));
    for (const client of warm) {
      await new DbOpRunner().transaction(pgSession(client, { sidecar: newPrimary }), (s) =>
        s.query('SELECT 1'),
      );
    }
    for (const client of warm) client.release();
    // Both servers hand out the same next id; the new primary commits it first, for its own transaction.
    let [a, b] = [await xid(oldPrimary), await xid(newPrimary)];
    while (a < b) a = await xid(oldPrimary);
    while (b < a) b = await xid(newPrimary);
    const next = a + 1n;
    expect(await xid(newPrimary)).toBe(next);

    // The transaction runs on the old primary; its lost COMMIT is looked up on the new one.
    const source: SessionSource<pg.PoolClient> = {
      acquire: async () => pgSession(await oldPrimary.connect(), { sidecar: newPrimary }),
      release: async (s) => s.raw.release(s.destroyed || s.inTransaction()),
    };
    const runner = new DbOpRunner({ maxRetries: 3, initialDelayMs: 10 });
    let attempts = 0;
    const outcome = await runner
      .transaction(
        source,
        async (s) => {
          attempts += 1;
          const { rows } = await s.query<{ x: string }>('SELECT txid_current()::text AS x');
          expect(BigInt(rows[0]!.x)).toBe(next);
          await s.query(`INSERT INTO ${table} (id, n) VALUES (1, 1)`);
          const pid = (s.raw as unknown as { processID: number }).processID;
          void killWhile(cluster.primary.url, oldPrimary, pid, 'PgSleep');
        },
        { name: 'other-history' },
      )
      .then(
        () => 'reported committed',
        (error: unknown) => error,
      );
    // The old primary never committed it (killed inside COMMIT, before its commit record).
    const { rows } = await oldPrimary.query(`SELECT count(*)::int AS c FROM ${table} WHERE id = 1`);
    expect(rows[0].c).toBe(0);
    expect(attempts).toBe(1);
    expect(outcome).not.toBe('reported committed');
    expect(isAmbiguousCommitError(outcome)).toBe(true);
    expect(String((outcome as Error).message)).toMatch(/history|timeline/);
  });
});
