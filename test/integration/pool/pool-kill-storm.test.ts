import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { pgFactory } from '../../../src/pool/factories/pg-factory.js';
import { createPool, type Pool, type PoolStats } from '../../../src/pool/pool.js';
import { describeIfPostgres, postgresUrl } from '../../support/servers.js';
import { connectionSettings } from './pool-support.js';

type Client = pg.Client;
const pools: Pool<Client>[] = [];

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

function consistent(stats: PoolStats): void {
  expect(stats.inUse).toBeGreaterThanOrEqual(0);
  expect(stats.size).toBe(stats.idle + stats.inUse + stats.opening + stats.checking);
  expect(stats.created - stats.destroyed).toBe(stats.size - stats.opening);
}

describeIfPostgres('dbop pool over pg: backends killed while 50 callers use it (attack on issue 12)', () => {
  it('loses no caller, keeps its counts consistent, and serves the next acquire', async () => {
    const appName = `dbop-kill-storm-${process.pid}`;
    const p = createPool(
      pgFactory({ ...connectionSettings(postgresUrl()), application_name: appName }, { driver: pg }) as never,
      {
        max: 10,
        acquireTimeoutMs: 60_000,
        name: 'kill-storm',
      },
    ) as Pool<Client>;
    pools.push(p);
    const admin = new pg.Client({ connectionString: postgresUrl() });
    await admin.connect();
    let done = false;
    let kills = 0;
    const killer = (async () => {
      while (!done) {
        // Idle and busy backends alike: whichever two the server lists first at random.
        const { rows } = await admin.query<{ n: number }>(
          'SELECT count(pg_terminate_backend(pid))::int AS n FROM (SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY random() LIMIT 2) AS x',
          [appName],
        );
        kills += rows[0]!.n;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    let ok = 0;
    const failures: unknown[] = [];
    try {
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          for (let i = 0; i < 30; i += 1) {
            try {
              await p.use((client) => client.query('SELECT pg_sleep(0.001)'));
              ok += 1;
            } catch (error) {
              failures.push(error);
            }
            consistent(p.stats());
          }
        }),
      );
    } finally {
      done = true;
      await killer;
      await admin.end();
    }
    expect(ok + failures.length).toBe(50 * 30);
    expect(kills).toBeGreaterThan(0);
    // Every failure is the server ending the connection, never a pool timeout or a crash.
    for (const error of failures)
      expect(String((error as Error).message)).toMatch(
        /terminat|ended the connection as it opened|ECONNRESET/i,
      );
    const stats = p.stats();
    consistent(stats);
    expect(stats).toMatchObject({ inUse: 0, pending: 0 });
    expect(await p.use(async (client) => (await client.query('SELECT 1 AS one')).rows)).toEqual([{ one: 1 }]);
  });
});
