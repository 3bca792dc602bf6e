import pg from 'pg';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { pgFactory } from '../../../src/pool/factories/pg-factory.js';
import { createPool, type Pool } from '../../../src/pool/pool.js';
import {
  type PoolDestroyMessage,
  type PoolLeakMessage,
  poolChannelNames,
} from '../../../src/pool/pool-channels.js';
import { PoolTimeoutError } from '../../../src/pool/pool-errors.js';
import {
  describeIfPostgres,
  type PgCluster,
  postgresUrl,
  startPostgres,
  terminateBackend,
} from '../../support/servers.js';
import { collect, connectionSettings, until } from './pool-support.js';

type Client = pg.Client;
const pools: Pool<Client>[] = [];
function pool(url: string, options: Parameters<typeof createPool>[1] = {}): Pool<Client> {
  const made = createPool(pgFactory(connectionSettings(url), { driver: pg }) as never, {
    acquireTimeoutMs: 60_000,
    ...options,
  }) as Pool<Client>;
  pools.push(made);
  return made;
}
const pid = async (client: Client): Promise<number> =>
  (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

describeIfPostgres('dbop pool over pg: server faults', () => {
  it('survives idle connections ended by pg_terminate_backend: no crash, dropped, next acquire healthy', async () => {
    const destroyed = collect<PoolDestroyMessage>(poolChannelNames.destroy);
    try {
      const p = pool(postgresUrl(), { max: 3, name: 'terminated' });
      const clients = [await p.acquire(), await p.acquire(), await p.acquire()];
      const pids = await Promise.all(clients.map(pid));
      // Every connection has the pool's listener besides the factory's: an 'error' never goes unheard.
      for (const client of clients) expect(client.listenerCount('error')).toBeGreaterThanOrEqual(2);
      for (const client of clients) p.release(client);
      for (const backend of pids) await terminateBackend(postgresUrl(), backend);
      await until(() => destroyed.messages.filter((m) => m.pool === 'terminated').length === 3);
      expect(destroyed.messages.map((m) => m.reason)).toEqual(['broken', 'broken', 'broken']);
      const fresh = await p.acquire();
      expect(pids).not.toContain(await pid(fresh));
      expect((await fresh.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      p.release(fresh);
    } finally {
      destroyed.stop();
    }
  });

  it('destroys a connection given back inside an open or an aborted transaction (ReadyForQuery T / E)', async () => {
    const destroyed = collect<PoolDestroyMessage>(poolChannelNames.destroy);
    try {
      const p = pool(postgresUrl(), { max: 1, name: 'in-tx' });
      const open = await p.acquire();
      const openPid = await pid(open);
      await open.query('BEGIN');
      expect(open.getTransactionStatus()).toBe('T');
      p.release(open);
      const aborted = await p.acquire();
      expect(aborted).not.toBe(open);
      const abortedPid = await pid(aborted);
      await aborted.query('BEGIN');
      await expect(aborted.query('SELECT 1/0')).rejects.toThrow('division by zero');
      // pg rejects on the ErrorResponse; the ReadyForQuery 'E' that follows may not be read yet. Either
      // status says "inside a transaction", and the connection must not be reused.
      expect(['T', 'E']).toContain(aborted.getTransactionStatus());
      p.release(aborted);
      expect(destroyed.messages.filter((m) => m.pool === 'in-tx').map((m) => m.reason)).toEqual([
        'in-transaction',
        'in-transaction',
      ]);
      // The server saw both sessions end: their transactions were rolled back, not handed to the next caller.
      const admin = new pg.Client(connectionSettings(postgresUrl()));
      await admin.connect();
      try {
        await until(
          async () =>
            (await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = ANY($1)', [[openPid, abortedPid]]))
              .rowCount === 0,
        );
      } finally {
        await admin.end();
      }
      const next = await p.acquire();
      expect(next.getTransactionStatus()).toBe('I');
      p.release(next);
    } finally {
      destroyed.stop();
    }
  });

  it('serves 200 waiters on max 1 in the order they came', async () => {
    const p = pool(postgresUrl(), { max: 1 });
    const served: number[] = [];
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        p.use(async (client) => {
          served.push(i);
          await client.query('SELECT $1::int AS i', [i]);
        }),
      ),
    );
    expect(served).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(p.stats()).toMatchObject({ created: 1, timeouts: 0, pending: 0 });
  });

  it('fails 200 waiters on max 1 with a typed timeout naming the holder while the only connection is held', async () => {
    const p = pool(postgresUrl(), { max: 1, acquireTimeoutMs: 300 });
    const held = await p.acquire({ holder: 'long report' });
    const results = await Promise.allSettled(Array.from({ length: 200 }, () => p.acquire()));
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof PoolTimeoutError)).toBe(true);
    const first = (results[0] as PromiseRejectedResult).reason as PoolTimeoutError;
    expect(first.message).toMatch(/all 1 of 1 connections are in use.*by long report/);
    expect(p.stats()).toMatchObject({ timeouts: 200, pending: 0 });
    p.release(held);
    expect((await p.use((client) => client.query('SELECT 1 AS one'))).rows).toEqual([{ one: 1 }]);
  });

  it('reports a leaked connection with the stack of the code that acquired it', async () => {
    const leaks = collect<PoolLeakMessage>(poolChannelNames.leak);
    try {
      const p = pool(postgresUrl(), { leakDetectionMs: 200, name: 'leaky' });
      async function handlerThatForgetsToRelease(): Promise<Client> {
        const client = await p.acquire();
        await client.query('SELECT 1');
        return client;
      }
      const client = await handlerThatForgetsToRelease();
      await until(() => leaks.messages.some((m) => m.pool === 'leaky'));
      const leak = leaks.messages.find((m) => m.pool === 'leaky')!;
      expect(leak.stack).toContain('handlerThatForgetsToRelease');
      expect(leak.heldMs).toBeGreaterThanOrEqual(200);
      p.release(client);
    } finally {
      leaks.stop();
    }
  });
});

describeIfPostgres('dbop pool over pg: a private server restarts', () => {
  let cluster: PgCluster;
  beforeAll(async () => {
    cluster = await startPostgres();
  }, 240_000);
  afterAll(async () => {
    await cluster?.destroy();
  }, 240_000);

  it('drops the connections the restart ended and serves the next acquire from the restarted server', async () => {
    const p = pool(cluster.primary.url, { max: 3, minIdle: 2, name: 'restart' });
    const clients = [await p.acquire(), await p.acquire()];
    const before = await Promise.all(clients.map(pid));
    for (const client of clients) p.release(client);
    await cluster.primary.restart();
    const after = await p.use(pid);
    expect(before).not.toContain(after);
    expect(p.stats().destroyed).toBeGreaterThanOrEqual(2);
    expect(p.stats().size).toBeLessThanOrEqual(3);
  });
});
