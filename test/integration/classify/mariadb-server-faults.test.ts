import { afterAll, beforeAll, expect, it } from 'vitest';
import { classify } from '../../../src/dialects/classify.js';
import { describeIfMariadb, type MariadbServer, startMariadb } from '../../support/servers.js';
import {
  type Connect,
  connectMariadb,
  connectMysql2,
  failure,
  type TestConnection,
  uniqueName,
  waitUntilBlocked,
  withConnections,
} from './drivers.js';

const drivers: readonly (readonly [string, Connect])[] = [
  ['mysql2', connectMysql2],
  ['mariadb', connectMariadb],
];
const dialect = { dialect: 'mariadb' } as const;

// A private server: these tests change global settings, stop it and kill it.
describeIfMariadb('classify: MariaDB server faults (private server)', () => {
  let server: MariadbServer | undefined;
  const user = uniqueName('cls_plain');
  const table = uniqueName('cls_ro');
  /** A user without SUPER / READ ONLY ADMIN, so read_only and max_connections apply to it. */
  const plainUrl = (): string => {
    const url = new URL(server!.url);
    url.username = user;
    url.password = 'pw';
    return url.href;
  };

  beforeAll(async () => {
    server = await startMariadb();
    await server.sql(
      `CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY 'pw'; GRANT SELECT, INSERT ON dbop.* TO '${user}'@'127.0.0.1'; CREATE TABLE dbop.${table} (id INT)`,
    );
  });

  afterAll(async () => {
    await server?.destroy();
  });

  const sleeping = (id: number): string =>
    `SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = ${id} AND INFO LIKE '%SLEEP(%'`;

  it.each(drivers)('%s: 1290 on a read_only server (an old primary after failover)', async (_d, connect) => {
    await server!.sql('SET GLOBAL read_only = 1');
    try {
      await withConnections(connect, [plainUrl()], async ([c]) => {
        const error = await failure(c!.query(`INSERT INTO ${table} VALUES (1)`));
        expect(classify(error, dialect)).toMatchObject({
          kind: 'read-only',
          scope: 'none',
          retryable: false,
          code: '1290',
        });
      });
    } finally {
      await server!.sql('SET GLOBAL read_only = 0');
    }
  });

  it.each(drivers)('%s: 1040 when max_connections (10, its minimum) is reached', async (_d, connect) => {
    await server!.sql('SET GLOBAL max_connections = 10');
    const open: TestConnection[] = [];
    try {
      let error: unknown;
      for (let i = 0; i < 15 && error === undefined; i++) {
        await connect(plainUrl()).then(
          (c) => open.push(c),
          (e: unknown) => {
            error = e;
          },
        );
      }
      expect(classify(error, dialect)).toMatchObject({
        kind: 'too-many-connections',
        scope: 'connection',
        retryable: true,
        code: '1040',
      });
    } finally {
      await Promise.allSettled(open.map((c) => c.close()));
      await server!.sql('SET GLOBAL max_connections = 200');
    }
  });

  // Stops before kills: a SIGTERM stop right after a crash restart once hung the harness for 60 s.
  it.each(drivers)(
    '%s: server stopped is ECONNREFUSED: connect-failed, never ambiguous',
    async (_d, connect) => {
      await server!.stop();
      try {
        const error = await failure(connect(server!.url));
        expect(error, String(error)).toMatchObject({ code: 'ECONNREFUSED' });
        const c = classify(error, { ...dialect, inFlight: 'commit' });
        expect(c).toMatchObject({
          kind: 'connect-failed',
          scope: 'connection',
          retryable: true,
          ambiguous: false,
        });
      } finally {
        await server!.start();
      }
    },
  );

  it.each(drivers)(
    '%s: server killed (SIGKILL) mid-query is connection-lost, ambiguous during COMMIT',
    async (_d, connect) => {
      try {
        await withConnections(connect, [server!.url, server!.url], async ([observer, victim]) => {
          const running = failure(victim!.query('SELECT SLEEP(10)'));
          await waitUntilBlocked(observer!, sleeping(victim!.id));
          await server!.kill9();
          const error = await running;
          expect(classify(error, dialect)).toMatchObject({
            kind: 'connection-lost',
            scope: 'connection',
            retryable: true,
          });
          expect(classify(error, { ...dialect, inFlight: 'commit' })).toMatchObject({
            ambiguous: true,
            retryable: false,
          });
        });
      } finally {
        await server!.start();
      }
    },
  );
});
