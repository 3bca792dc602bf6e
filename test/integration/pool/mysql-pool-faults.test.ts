import mariadb from 'mariadb';
import mysql from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mariadbFactory } from '../../../src/pool/factories/mariadb-factory.js';
import { mysql2Factory } from '../../../src/pool/factories/mysql2-factory.js';
import { createPool, type Pool } from '../../../src/pool/pool.js';
import { type PoolDestroyMessage, poolChannelNames } from '../../../src/pool/pool-channels.js';
import type { PoolFactory } from '../../../src/pool/pool-factory.js';
import { describeIfMariadb, mariadbUrl } from '../../support/servers.js';
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
