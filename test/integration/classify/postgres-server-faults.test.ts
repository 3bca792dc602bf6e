import { afterAll, beforeAll, expect, it } from 'vitest';
import { classify } from '../../../src/dialects/classify.js';
import { describeIfPostgres, type PgCluster, startPostgres } from '../../support/servers.js';
import {
  type Connect,
  connectPg,
  connectPostgresJs,
  failure,
  waitUntilBlocked,
  withConnections,
} from './drivers.js';

const drivers: readonly (readonly [string, Connect])[] = [
  ['pg', connectPg],
  ['postgres.js', connectPostgresJs],
];

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

  it.each(drivers)(
    '%s: server killed (SIGKILL) mid-query is connection-lost, ambiguous during COMMIT',
    async (_d, connect) => {
      const server = cluster!.primary;
      await withConnections(connect, [server.url, server.url], async ([observer, victim]) => {
        const running = failure(victim!.query('SELECT pg_sleep(10)'));
        await waitUntilBlocked(observer!, sleeping(victim!.id));
        await server.kill9();
        const error = await running;
        expect(classify(error)).toMatchObject({
          kind: 'connection-lost',
          scope: 'connection',
          retryable: true,
        });
        expect(classify(error, { inFlight: 'commit' })).toMatchObject({ ambiguous: true, retryable: false });
      });
      await server.start();
    },
  );

  it.each(drivers)(
    '%s: fast shutdown mid-query is server-shutdown or connection-lost',
    async (driver, connect) => {
      const server = cluster!.primary;
      await withConnections(connect, [server.url, server.url], async ([observer, victim]) => {
        const running = failure(victim!.query('SELECT pg_sleep(10)'));
        await waitUntilBlocked(observer!, sleeping(victim!.id));
        await server.stop('fast');
        const c = classify(await running);
        expect(c).toMatchObject({
          kind: driver === 'pg' ? 'server-shutdown' : 'connection-lost',
          scope: 'connection',
        });
        expect(c.retryable).toBe(true);
      });
      await server.start();
    },
  );

  it.each(drivers)(
    '%s: server stopped is ECONNREFUSED at connect: connect-failed, never ambiguous',
    async (_d, connect) => {
      const server = cluster!.primary;
      await server.stop('fast');
      try {
        const error = await failure(connect(server.url));
        const c = classify(error, { inFlight: 'commit' });
        expect(c).toMatchObject({
          kind: 'connect-failed',
          scope: 'connection',
          retryable: true,
          ambiguous: false,
        });
        expect(c.code).toBe('ECONNREFUSED');
      } finally {
        await server.start();
      }
    },
  );
});
