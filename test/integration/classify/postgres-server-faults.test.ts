import { afterAll, beforeAll, expect, it } from 'vitest';
import { classify } from '../../../src/dialects/classify.js';
import { describeIfPostgres, type PgCluster, startPostgres } from '../../support/servers.js';
import {
  connectPg,
  connectPostgresJs,
  failure,
  postgresDrivers,
  waitUntilBlocked,
  withConnections,
} from './drivers.js';

// A private server: these tests stop and kill it.
describeIfPostgres('classify: PostgreSQL server faults (private server)', () => {
  let cluster: PgCluster | undefined;

  beforeAll(async () => {
    cluster = await startPostgres();
  });

  afterAll(async () => {
    await cluster?.destroy();
  });

  const sleeping = (pid: number): string =>
    `SELECT 1 FROM pg_stat_activity WHERE pid = ${pid} AND query LIKE '%pg_sleep%' AND state = 'active'`;

  /** Runs pg_sleep on one connection of each driver, then `fault`, and returns what each driver threw. */
  async function faultMidQuery(fault: () => Promise<void>): Promise<{ pg: unknown; 'postgres.js': unknown }> {
    const url = cluster!.primary.url;
    return withConnections(connectPg, [url, url], async ([observer, viaPg]) =>
      withConnections(connectPostgresJs, [url], async ([viaPostgresJs]) => {
        const running = [viaPg!, viaPostgresJs!].map((c) => failure(c.query('SELECT pg_sleep(10)')));
        for (const c of [viaPg!, viaPostgresJs!]) await waitUntilBlocked(observer!, sleeping(c.id));
        await fault();
        const errors = await Promise.all(running);
        return { pg: errors[0], 'postgres.js': errors[1] };
      }),
    );
  }

  it('server killed (SIGKILL) mid-query: connection-lost for both postgresDrivers, ambiguous during COMMIT', async () => {
    try {
      for (const [driver, error] of Object.entries(await faultMidQuery(() => cluster!.primary.kill9()))) {
        const c = classify(error);
        expect(c, driver).toMatchObject({ kind: 'connection-lost', scope: 'connection', retryable: true });
        expect(classify(error, { inFlight: 'commit' }), driver).toMatchObject({
          ambiguous: true,
          retryable: false,
        });
      }
    } finally {
      await cluster!.primary.start();
    }
  });

  it('fast shutdown mid-query: pg sees 57P01 server-shutdown, postgres.js a closed connection', async () => {
    try {
      const { pg: viaPg, 'postgres.js': viaPostgresJs } = await faultMidQuery(() =>
        cluster!.primary.stop('fast'),
      );
      expect(classify(viaPg)).toMatchObject({
        kind: 'server-shutdown',
        code: '57P01',
        scope: 'connection',
        retryable: true,
      });
      expect(classify(viaPostgresJs)).toMatchObject({
        kind: 'connection-lost',
        scope: 'connection',
        retryable: true,
      });
    } finally {
      await cluster!.primary.start();
    }
  });

  it('server stopped: both postgresDrivers get ECONNREFUSED at connect, connect-failed, never ambiguous', async () => {
    await cluster!.primary.stop('fast');
    try {
      for (const [driver, connect] of postgresDrivers) {
        const c = classify(await failure(connect(cluster!.primary.url)), { inFlight: 'commit' });
        expect(c, driver).toMatchObject({
          kind: 'connect-failed',
          scope: 'connection',
          retryable: true,
          ambiguous: false,
        });
        expect(c.code, driver).toBe('ECONNREFUSED');
      }
    } finally {
      await cluster!.primary.start();
    }
  });
});
