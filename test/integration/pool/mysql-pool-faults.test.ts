import mariadb from 'mariadb';
import mysql from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mariadbFactory } from '../../../src/pool/factories/mariadb-factory.js';
import { mysql2Factory } from '../../../src/pool/factories/mysql2-factory.js';
import { createPool, type Pool } from '../../../src/pool/pool.js';
import { type PoolDestroyMessage, poolChannelNames } from '../../../src/pool/pool-channels.js';
import type { PoolFactory } from '../../../src/pool/pool-factory.js';
import { describeIfMariadb, type MariadbServer, mariadbUrl, startMariadb } from '../../support/servers.js';
import { collect, connectionSettings, until } from './pool-support.js';

interface Queryable {
  query(sql: string): Promise<unknown>;
  listenerCount(event: string): number;
}

// The two drivers answer a query differently: mysql2/promise with [rows, fields], mariadb with rows.
const drivers: readonly [string, () => PoolFactory<Queryable>, (result: unknown) => unknown][] = [
  ['mariadb', () => mariadbFactory(connectionSettings(mariadbUrl()), { driver: mariadb }) as never, (r) => r],
  [
    'mysql2',
    () => mysql2Factory(connectionSettings(mariadbUrl()), { driver: mysql }) as never,
    (r) => (r as unknown[])[0],
  ],
];

describeIfMariadb('dbop pool over MariaDB: server faults', () => {
  let admin: mysql.Connection;
  const pools: Pool<Queryable>[] = [];
  beforeAll(async () => {
    admin = await mysql.createConnection(connectionSettings(mariadbUrl()));
  });
  afterAll(async () => {
    await admin.end();
  });
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.close()));
  });

  for (const [name, factory, rowsOf] of drivers) {
    describe(name, () => {
      const connectionId = async (c: Queryable): Promise<number> =>
        Number((rowsOf(await c.query('SELECT CONNECTION_ID() AS id')) as { id: number | bigint }[])[0]!.id);

      it('survives idle connections ended by KILL CONNECTION: no crash, next acquire healthy', async () => {
        const p = createPool(factory(), { max: 2, name: `${name}-killed`, acquireTimeoutMs: 60_000 });
        pools.push(p);
        const connections = [await p.acquire(), await p.acquire()];
        for (const c of connections) expect(c.listenerCount('error')).toBeGreaterThanOrEqual(2);
        const ids = await Promise.all(connections.map(connectionId));
        for (const c of connections) p.release(c);
        for (const id of ids) await admin.query(`KILL CONNECTION ${id}`);
        // The server closes the sockets; the drivers report it as an 'error' event on an idle connection.
        await until(() => p.stats().destroyed === 2);
        const fresh = await p.acquire();
        expect(ids).not.toContain(await connectionId(fresh));
        p.release(fresh);
      });

      it('destroys a connection given back inside a transaction (SERVER_STATUS_IN_TRANS)', async () => {
        const destroyed = collect<PoolDestroyMessage>(poolChannelNames.destroy);
        try {
          const p = createPool(factory(), { max: 1, name: `${name}-in-tx` });
          pools.push(p);
          const c = await p.acquire();
          const id = await connectionId(c);
          await c.query('START TRANSACTION');
          await c.query('SELECT 1');
          p.release(c);
          await until(() => destroyed.messages.some((m) => m.pool === `${name}-in-tx`));
          expect(destroyed.messages.find((m) => m.pool === `${name}-in-tx`)!.reason).toMatch(
            /^(in-transaction|reset-failed)$/,
          );
          const next = await p.acquire();
          expect(await connectionId(next)).not.toBe(id);
          p.release(next);
          // After a plain autocommit statement the connection is reused.
          const again = await p.acquire();
          expect(again).toBe(next);
          p.release(again);
        } finally {
          destroyed.stop();
        }
      });
    });
  }
});

describeIfMariadb('dbop pool over MariaDB: a private server restarts', () => {
  let server: MariadbServer | undefined;
  beforeAll(async () => {
    server = await startMariadb();
  }, 240_000);
  afterAll(async () => {
    await server?.destroy();
  }, 240_000);

  for (const [name, factoryOf, rowsOf] of [
    [
      'mariadb',
      (url: string) => mariadbFactory(connectionSettings(url), { driver: mariadb }),
      (r: unknown) => r,
    ],
    [
      'mysql2',
      (url: string) => mysql2Factory(connectionSettings(url), { driver: mysql }),
      (r: unknown) => (r as unknown[])[0],
    ],
  ] as const) {
    it(`${name}: drops the connections the restart ended and serves the next acquire from the restarted server`, async () => {
      const p = createPool(factoryOf(server!.url) as unknown as PoolFactory<Queryable>, {
        max: 3,
        minIdle: 2,
        name: `${name}-restart`,
        acquireTimeoutMs: 60_000,
      });
      try {
        const connections = [await p.acquire(), await p.acquire()];
        // A session variable lives and dies with its connection: after the restart no connection has it.
        for (const c of connections) await c.query('SET @dbop_before_restart = 1');
        for (const c of connections) p.release(c);
        await server!.restart();
        await until(() => p.stats().destroyed >= 2);
        const marker = await p.use(async (c) => rowsOf(await c.query('SELECT @dbop_before_restart AS m')));
        expect((marker as { m: unknown }[])[0]!.m).toBeNull();
        expect(p.stats().size).toBeLessThanOrEqual(3);
      } finally {
        await p.close();
      }
    });
  }
});
