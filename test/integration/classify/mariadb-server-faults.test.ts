import { afterAll, beforeAll, expect, it } from 'vitest';
import { classify } from '../../../src/dialects/classify.js';
import { describeIfMariadb, type MariadbServer, startMariadb } from '../../support/servers.js';
import {
  connectMariadb,
  connectMysql2,
  failure,
  mariadbDrivers,
  type TestConnection,
  uniqueName,
  waitUntilBlocked,
  withConnections,
} from './drivers.js';

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

  it.each(mariadbDrivers)(
    '%s: 1290 on a read_only server (an old primary after failover)',
    async (_d, connect) => {
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
    },
  );

  it.each(mariadbDrivers)(
    '%s: 1040 when max_connections (10, its minimum) is reached',
    async (_d, connect) => {
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
    },
  );

  // Each fault happens once, seen by both mariadbDrivers at the same time: fewer restarts, and a SIGTERM stop of a
  // restarted server has hung the harness for 60 s (reported to the lead).
  it('server stopped: both mariadbDrivers get ECONNREFUSED, connect-failed, never ambiguous', async () => {
    await server!.stop();
    try {
      for (const [driver, connect] of mariadbDrivers) {
        const error = await failure(connect(server!.url));
        expect(error, `${driver}: ${String(error)}`).toMatchObject({ code: 'ECONNREFUSED' });
        const c = classify(error, { ...dialect, inFlight: 'commit' });
        expect(c).toMatchObject({
          kind: 'connect-failed',
          scope: 'connection',
          retryable: true,
          ambiguous: false,
        });
      }
    } finally {
      await server!.start();
    }
  });

  it('server killed (SIGKILL) mid-query: connection-lost for both mariadbDrivers, ambiguous during COMMIT', async () => {
    const urls = [server!.url, server!.url, server!.url];
    await withConnections(connectMysql2, urls.slice(0, 2), async ([observer, viaMysql2]) => {
      await withConnections(connectMariadb, urls.slice(2), async ([viaMariadb]) => {
        const running = [viaMysql2!, viaMariadb!].map((c) => failure(c.query('SELECT SLEEP(10)')));
        await waitUntilBlocked(observer!, sleeping(viaMysql2!.id));
        await waitUntilBlocked(observer!, sleeping(viaMariadb!.id));
        await server!.kill9();
        for (const error of await Promise.all(running)) {
          expect(classify(error, dialect)).toMatchObject({
            kind: 'connection-lost',
            scope: 'connection',
            retryable: true,
          });
          expect(classify(error, { ...dialect, inFlight: 'commit' })).toMatchObject({
            ambiguous: true,
            retryable: false,
          });
        }
      });
    });
  });
});
