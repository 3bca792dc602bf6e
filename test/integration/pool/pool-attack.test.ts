import mariadb from 'mariadb';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { mariadbFactory } from '../../../src/pool/factories/mariadb-factory.js';
import { mysql2Factory } from '../../../src/pool/factories/mysql2-factory.js';
import { pgFactory } from '../../../src/pool/factories/pg-factory.js';
import { createPool, type Pool, type PoolOptions } from '../../../src/pool/index.js';
import { type FaultProxy, startFaultProxy } from '../../../src/testing/fault-proxy.js';
import {
  describeIfMariadb,
  describeIfPostgres,
  mariadbUrl,
  postgresUrl,
  terminateBackend,
} from '../../support/servers.js';
import { connectionSettings } from './pool-support.js';

type Client = pg.Client;
const pools: Pool<Client>[] = [];
function pool(port: number | undefined, options: PoolOptions = {}): Pool<Client> {
  const settings = connectionSettings(postgresUrl());
  const made = createPool(
    pgFactory(port === undefined ? settings : { ...settings, port }, { driver: pg }) as never,
    { acquireTimeoutMs: 30_000, ...options },
  ) as Pool<Client>;
  pools.push(made);
  return made;
}
const pid = async (client: Client): Promise<number> =>
  (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;

/** `promise`'s outcome, or 'still waiting' after `ms` (a generous bound, not a timing assertion). */
function within<T>(promise: Promise<T>, ms: number): Promise<T | Error | 'still waiting'> {
  const bound = new Promise<'still waiting'>((resolve) =>
    setTimeout(() => resolve('still waiting'), ms).unref(),
  );
  return Promise.race([promise.catch((error: unknown) => error as Error), bound]);
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => within(p.close(), 30_000)));
});

describeIfPostgres('dbop pool over pg under attack (pool-attack, issue 12)', () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await startFaultProxy({ targetPort: Number(new URL(postgresUrl()).port) });
  });
  afterAll(async () => {
    await proxy.close();
  });

  it('close() ends a borrowed connection whose socket went half-open after closeTimeoutMs, and resolves', async () => {
    const p = pool(proxy.port, { max: 2, closeTimeoutMs: 500, connectTimeoutMs: 2000 });
    const held = await p.acquire();
    await held.query('SELECT 1');
    proxy.set({ stall: true });
    try {
      const stuck = held.query('SELECT 1').catch((error: unknown) => error);
      const outcome = await within(
        p.close().then(() => 'closed'),
        20_000,
      );
      expect(outcome).toBe('closed');
      expect(p.stats()).toMatchObject({ size: 0, inUse: 0 });
      void stuck;
    } finally {
      proxy.set({});
    }
  });

  it('a connection killed while its holder runs a statement is destroyed on release, even without the error', async () => {
    const p = pool(undefined, { max: 1 });
    const held = await p.acquire();
    const backend = await pid(held);
    const sleeping = held.query('SELECT pg_sleep(30)').catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await terminateBackend(postgresUrl(), backend);
    expect(await sleeping).toBeInstanceOf(Error);
    // The holder gives it back as if nothing happened: the pool must not lend the dead client again.
    p.release(held);
    const next = await p.acquire();
    expect(next).not.toBe(held);
    expect(await pid(next)).not.toBe(backend);
    p.release(next);
  });
});

interface Queryable {
  query(sql: string): Promise<unknown>;
}

describeIfMariadb('dbop pool over MariaDB under attack (pool-attack, issue 12)', () => {
  let admin: mysql.Connection;
  const mysqlPools: Pool<Queryable>[] = [];
  beforeAll(async () => {
    admin = await mysql.createConnection(connectionSettings(mariadbUrl()));
  });
  afterAll(async () => {
    await admin.end();
  });
  afterEach(async () => {
    await Promise.all(mysqlPools.splice(0).map((p) => within(p.close(), 30_000)));
  });

  const drivers: readonly [string, () => unknown, (result: unknown) => unknown][] = [
    ['mariadb', () => mariadbFactory(connectionSettings(mariadbUrl()), { driver: mariadb }), (r) => r],
    [
      'mysql2',
      () => mysql2Factory(connectionSettings(mariadbUrl()), { driver: mysql }),
      (r) => (r as unknown[])[0],
    ],
  ];
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await startFaultProxy({ targetPort: Number(new URL(mariadbUrl()).port) });
  });
  afterAll(async () => {
    await proxy.close();
  });

  for (const [name, factory, rowsOf] of drivers) {
    it(`${name}: close() ends idle and borrowed connections whose socket went half-open, and resolves`, async () => {
      const settings = { ...connectionSettings(mariadbUrl()), port: proxy.port };
      const made =
        name === 'mariadb'
          ? mariadbFactory(settings, { driver: mariadb })
          : mysql2Factory(settings, { driver: mysql });
      const p = createPool(made as never, {
        max: 2,
        closeTimeoutMs: 500,
        connectTimeoutMs: 2000,
      }) as Pool<Queryable>;
      const held = await p.acquire();
      p.release(await p.acquire());
      await held.query('SELECT 1');
      proxy.set({ stall: true });
      try {
        void held.query('SELECT 1').catch(() => {});
        expect(
          await within(
            p.close().then(() => 'closed'),
            20_000,
          ),
        ).toBe('closed');
      } finally {
        proxy.set({});
      }
    });

    it(`${name}: a connection KILLed while its holder ran a statement is never lent again, even released without the error`, async () => {
      const p = createPool(factory() as never, { max: 1, acquireTimeoutMs: 30_000 }) as Pool<Queryable>;
      mysqlPools.push(p);
      const id = async (c: Queryable): Promise<number> =>
        Number((rowsOf(await c.query('SELECT CONNECTION_ID() AS id')) as { id: number | bigint }[])[0]!.id);
      const held = await p.acquire();
      const backend = await id(held);
      const sleeping = held.query('SELECT SLEEP(30)').catch((error: unknown) => error);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await admin.query(`KILL CONNECTION ${backend}`);
      expect(await within(sleeping, 20_000)).toBeInstanceOf(Error);
      p.release(held);
      const next = await p.acquire();
      expect(await id(next)).not.toBe(backend);
      p.release(next);
    });
  }
});
