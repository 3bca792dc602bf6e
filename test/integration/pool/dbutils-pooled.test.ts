// DBUtils' tests/test_pooled_db.py and test_pooled_pg.py, re-run on real servers (DBUtils used a mock
// driver): pg, mariadb and mysql2 against the harness's private PostgreSQL and MariaDB. Connections are
// told apart by the server's own id; what the pool closed is checked gone on the server.
import { afterEach, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../../src/pool/pool.js';
import { PoolTimeoutError } from '../../../src/pool/pool-errors.js';
import type { PoolOptions } from '../../../src/pool/pool-options.js';
import {
  type Conn,
  type CountingFactory,
  describeAdmin,
  serverId,
  tagOf,
  targets,
} from './dbutils-support.js';
import { until } from './pool-support.js';

for (const target of targets) {
  describe.skipIf(!target.available())(`createPool over ${target.name} (DBUtils PooledDB)`, () => {
    let factory: CountingFactory;
    const pools: Pool<Conn>[] = [];
    // closeTimeoutMs 0: what a test still holds is ended at close, not waited for.
    const pool = (options: PoolOptions): Pool<Conn> => {
      factory = target.factory();
      const made = createPool(factory, { acquireTimeoutMs: 30_000, closeTimeoutMs: 0, ...options });
      pools.push(made);
      return made;
    };
    const id = (connection: Conn): Promise<number> => serverId(target, factory, connection);
    const run = (connection: Conn, sql: string): Promise<unknown> => factory.execute!(connection, sql);
    const table = `dbutils_pooled_${target.name}`;
    const admin = describeAdmin(target, table);

    afterEach(async () => {
      await Promise.all(pools.splice(0).map((p) => p.close()));
    });

    it.each([
      // DBUtils' PooledDB(mincached, maxcached) rows of test_min_max_cached, on max 10
      { minIdle: 3, maxIdle: undefined, take: 6, idleAfter: 6 },
      { minIdle: 0, maxIdle: 3, take: 6, idleAfter: 3 },
      { minIdle: 3, maxIdle: 3, take: 6, idleAfter: 3 },
      { minIdle: 2, maxIdle: 5, take: 10, idleAfter: 5 },
    ])(
      'minIdle $minIdle, maxIdle $maxIdle: opens minIdle at once and keeps at most maxIdle idle (test_min_max_cached)',
      async ({ minIdle, maxIdle, take, idleAfter }) => {
        const p = pool({ max: 10, minIdle, ...(maxIdle === undefined ? {} : { maxIdle }) });
        await until(() => p.stats().idle === minIdle);
        const held = await Promise.all(Array.from({ length: take }, () => p.acquire()));
        const ids = await Promise.all(held.map(id));
        expect(new Set(ids).size).toBe(take);
        expect(p.stats()).toMatchObject({ idle: 0, inUse: take });
        for (const connection of held) p.release(connection);
        // mysql2's connections come back through a DO 0 probe (its status is unknown): wait for it.
        await until(() => p.stats().checking === 0);
        expect(p.stats()).toMatchObject({ idle: idleAfter, inUse: 0 });
        // Those beyond maxIdle were closed on the server, not merely dropped by the pool.
        await until(async () => (await admin.alive(ids)) === idleAfter);
      },
    );

    it('shares up to maxShared connections, the least shared first, within max (test_shareable_connection, test_max_shared)', async () => {
      const p = pool({ max: 3, maxShared: 2 });
      const a = await p.acquire({ shared: true });
      const b = await p.acquire({ shared: true });
      expect(await id(b)).not.toBe(await id(a));
      // The shared set is full: the next shared callers join the least shared, oldest first.
      expect(await p.acquire({ shared: true })).toBe(a);
      expect(await p.acquire({ shared: true })).toBe(b);
      const dedicated = await p.acquire();
      expect([a, b]).not.toContain(dedicated);
      expect(await p.acquire({ shared: true })).toBe(a);
      // max 3 holds with every slot taken: a dedicated caller waits (bounded), never a fourth connection.
      await expect(p.acquire({ signal: AbortSignal.timeout(200) })).rejects.toThrow();
      expect(p.stats()).toMatchObject({ size: 3, inUse: 3 });
      await expect(admin.alive([await id(a), await id(b), await id(dedicated)])).resolves.toBe(3);
    });

    it('never shares a connection inside a transaction (test_sort_shared, test_shared_in_transaction)', async () => {
      const p = pool({ max: 2, maxShared: 2 });
      const x = await p.acquire({ shared: true });
      const y = await p.acquire({ shared: true });
      await run(x, 'BEGIN');
      // x is in a transaction (the server's own status): shared callers go to y only.
      expect(await p.acquire({ shared: true })).toBe(y);
      expect(await p.acquire({ shared: true })).toBe(y);
      await run(x, 'ROLLBACK');
      // Out of the transaction, x is the least shared again.
      expect(await p.acquire({ shared: true })).toBe(x);
    });

    it('makes the caller past max wait for a release (bounded), then hands it the released connection (test_maxconnections, test_three_threads_two_connections)', async () => {
      const p = pool({ max: 2, minIdle: 2, acquireTimeoutMs: 300 });
      await until(() => p.stats().idle === 2);
      const first = await p.acquire({ holder: 'first' });
      const second = await p.acquire();
      const failed = await p.acquire().catch((error: unknown) => error);
      expect(failed).toBeInstanceOf(PoolTimeoutError);
      expect((failed as PoolTimeoutError).message).toMatch(/all 2 of 2 connections are in use.*by first/s);
      const firstId = await id(first);
      const waiting = p.acquire();
      p.release(first);
      const third = await waiting;
      expect(third).toBe(first);
      expect(await id(third)).toBe(firstId);
      expect(p.stats()).toMatchObject({ created: 2, size: 2, timeouts: 1 });
      p.release(second);
      p.release(third);
    });

    it('destroys a connection given back inside a transaction: its uncommitted row never reaches anyone (test_rollback, test_reset_transaction)', async () => {
      const p = pool({ max: 1 });
      const c = await p.acquire();
      const before = await id(c);
      await run(c, 'BEGIN');
      await run(c, `INSERT INTO ${table} VALUES ('uncommitted')`);
      p.release(c);
      await until(async () => (await admin.alive([before])) === 0);
      expect(await admin.query(`SELECT k FROM ${table}`)).toEqual([]);
      const next = await p.acquire();
      expect(await id(next)).not.toBe(before);
      p.release(next);
    });

    it("reset 'always' runs the factory's reset on every release and keeps the connection (test_reset_transaction)", async () => {
      const p = pool({ max: 1, reset: 'always' });
      const c = await p.acquire();
      const before = await id(c);
      p.release(c);
      await until(() => p.stats().idle === 1);
      const again = await p.acquire();
      expect(again).toBe(c);
      expect(await id(again)).toBe(before);
      p.release(again);
    });

    it('runs setSession again on the connection replacing one the server ended (test_setsession)', async () => {
      const p = pool({ max: 1, setSession: [target.setTag('pooled')] });
      const c = await p.acquire();
      expect(await tagOf(target, factory, c)).toBe('pooled');
      const before = await id(c);
      // A plain statement's session change stays with the connection while it lives.
      p.release(c);
      await admin.kill(before);
      await until(() => p.stats().destroyed === 1);
      const fresh = await p.acquire();
      expect(await id(fresh)).not.toBe(before);
      expect(await tagOf(target, factory, fresh)).toBe('pooled');
      p.release(fresh);
    });

    it.each(['COMMIT', 'ROLLBACK'])(
      'a %s failing on a connection the server ended: release(conn, error) destroys it, the next acquire is healthy (test_failed_transaction)',
      async (end) => {
        const p = pool({ max: 1 });
        const c = await p.acquire();
        const before = await id(c);
        await run(c, 'BEGIN');
        await admin.kill(before);
        await until(async () => (await admin.alive([before])) === 0);
        const error = await run(c, end).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(Error);
        p.release(c, error);
        const next = await p.acquire();
        expect(next).not.toBe(c);
        expect(await id(next)).not.toBe(before);
        p.release(next);
        expect(p.stats().destroyed).toBe(1);
      },
    );

    it.each([0, 3, 7])(
      'retires a connection after maxUsage %i uses: a new server id each time (test_maxusage)',
      async (maxUsage) => {
        const p = pool({ max: 1, maxUsage });
        const ids: number[] = [];
        for (let i = 0; i < 14; i++) ids.push(await p.use(id));
        const expected = maxUsage === 0 ? 1 : Math.ceil(14 / maxUsage);
        expect(new Set(ids).size).toBe(expected);
        if (maxUsage > 0) for (let i = 0; i < 14; i++) expect(ids[i]).toBe(ids[i - (i % maxUsage)]);
        expect(p.stats().created).toBe(expected);
      },
    );

    it.each([
      { ping: 'acquire', pings: 5 },
      { ping: 'never', pings: 0 },
    ] as const)(
      'pings $pings times on 5 acquires with ping $ping (test_ping_check)',
      async ({ ping, pings }) => {
        const p = pool({ max: 1, minIdle: 1, ping });
        for (let i = 0; i < 5; i++) {
          // Taken from idle each time (one handed straight from a release to a waiter is not pinged).
          await until(() => p.stats().idle === 1);
          await p.use(id);
        }
        expect(factory.pings).toBe(pings);
        expect(p.stats().created).toBe(1);
      },
    );

    it('refuses a stale lease release after its connection was lent again (test_close_connection)', async () => {
      const p = pool({ max: 1 });
      const first = await p.acquireLease();
      const firstId = await id(first.connection);
      first.release();
      const second = await p.acquireLease();
      expect(() => first.release()).toThrow(/already released/);
      // The second holder still has it: its statements run, on the same backend.
      expect(await id(second.connection)).toBe(firstId);
      expect(p.stats().inUse).toBe(1);
      second.release();
    });
  });
}
