import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isDbopError } from '../../../src/core/errors.js';
import { classify } from '../../../src/dialects/classify.js';
import { persistentConnection } from '../../../src/pool/persistent-connection.js';
import type { PoolStats } from '../../../src/pool/pool.js';
import { createPool, type Pool } from '../../../src/pool/pool.js';
import { poolChannelNames } from '../../../src/pool/pool-channels.js';
import { PoolClosedError, PoolTimeoutError } from '../../../src/pool/pool-errors.js';
import type { PoolOptions } from '../../../src/pool/pool-options.js';
import { steadyConnection } from '../../../src/pool/steady-connection.js';
import { connectionLost, type FakeConnection, FakeFactory, fakeClock, kill } from './fake-factory.js';

let factory: FakeFactory;
const pools: Pool<FakeConnection>[] = [];

function pool(options?: PoolOptions): Pool<FakeConnection> {
  const made = createPool(factory, { clock: fakeClock, ...options });
  pools.push(made);
  return made;
}

const flush = async (): Promise<void> => {
  await vi.advanceTimersByTimeAsync(0);
};

function listen(name: string): unknown[] {
  const seen: unknown[] = [];
  const listener = (message: unknown): void => {
    seen.push(message);
  };
  subscribe(name, listener);
  stops.push(() => unsubscribe(name, listener));
  return seen;
}
const stops: (() => void)[] = [];

beforeEach(() => {
  vi.useFakeTimers();
  factory = new FakeFactory();
});

afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  const closing = Promise.all(pools.splice(0).map((made) => made.close()));
  await vi.runAllTimersAsync();
  await closing;
  vi.useRealTimers();
});

describe('createPool: creating and reusing (DBUtils test_create_connection, test_close_connection)', () => {
  it('opens more than ten connections at once without a MaxListenersExceededWarning', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning.name);
    };
    process.on('warning', onWarning);
    try {
      const p = pool({ max: 20 });
      // Twenty connects in flight together, each listening for close().
      const lent = await Promise.all(Array.from({ length: 20 }, () => p.acquire()));
      expect(factory.created).toBe(20);
      for (const connection of lent) p.release(connection);
      // process.emitWarning emits on a later tick.
      await new Promise((resolve) => process.nextTick(resolve));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('opens connections lazily and reuses the most recently released first (LIFO)', async () => {
    const p = pool({ max: 3 });
    expect(factory.created).toBe(0);
    const a = await p.acquire();
    const b = await p.acquire();
    expect(factory.created).toBe(2);
    p.release(a);
    p.release(b);
    expect(await p.acquire()).toBe(b);
    expect(await p.acquire()).toBe(a);
    expect(factory.created).toBe(2);
    expect(p.stats()).toMatchObject({ size: 2, idle: 0, inUse: 2, created: 2, destroyed: 0, acquired: 4 });
  });

  it('refuses to release a connection twice or one it never handed out', async () => {
    const p = pool();
    const a = await p.acquire();
    p.release(a);
    expect(() => p.release(a)).toThrow(/not acquired from this pool/);
    expect(() => p.release({} as FakeConnection)).toThrow(
      expect.objectContaining({ code: 'DBOP_POOL_NOT_ACQUIRED' }),
    );
  });

  it('refuses a stale release of a lease whose connection was lent again since (per-checkout lease)', async () => {
    const p = pool({ max: 1 });
    const first = await p.acquireLease({ holder: 'first' });
    first.release();
    expect(first.released).toBe(true);
    // The same connection object, lent to the next caller: a raw release(connection) cannot tell the two
    // checkouts apart, the first caller's lease can.
    const second = await p.acquireLease({ holder: 'second' });
    expect(second.connection).toBe(first.connection);
    expect(() => first.release()).toThrow(
      expect.objectContaining({
        code: 'DBOP_POOL_NOT_ACQUIRED',
        message: expect.stringMatching(/already released/),
      }),
    );
    expect(() => first.destroy()).toThrow(/already released/);
    // The second checkout was not disturbed: still in use, and a waiter still waits for it.
    expect(p.stats()).toMatchObject({ inUse: 1, idle: 0 });
    const third = p.acquire();
    await flush();
    expect(p.stats().pending).toBe(1);
    second.release();
    expect(await third).toBe(first.connection);
    p.release(await third);
  });

  it('a lease of a shared connection gives back its own share only, once', async () => {
    const p = pool({ max: 1, maxShared: 1 });
    const a = await p.acquireLease({ shared: true });
    const b = await p.acquireLease({ shared: true });
    expect(b.connection).toBe(a.connection);
    a.release();
    expect(() => a.release()).toThrow(/already released/);
    expect(p.stats()).toMatchObject({ inUse: 1, idle: 0 });
    b.destroy();
    expect(p.stats()).toMatchObject({ inUse: 0, size: 0 });
  });

  it('leakDetectionMs 0 turns leak detection off, as 0 does for the other limits', async () => {
    const p = pool({ leakDetectionMs: 0 });
    expect(p.options.leakDetectionMs).toBe(0);
    await p.acquire();
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(p.stats().leaks).toBe(0);
  });

  it('use() gives the connection back, and destroys it when the work failed because it is broken', async () => {
    const p = pool();
    expect(await p.use((c) => factory.execute(c, 'select 1'))).toBe('select 1');
    expect(p.stats()).toMatchObject({ idle: 1, inUse: 0 });
    await expect(p.use(() => Promise.reject(connectionLost()))).rejects.toThrow('connection lost');
    expect(p.stats()).toMatchObject({ idle: 0, inUse: 0, destroyed: 1 });
    await expect(p.use((c) => factory.execute(c, 'error'))).rejects.toThrow('syntax error');
    expect(p.stats()).toMatchObject({ idle: 1, destroyed: 1 });
  });
});

describe('minIdle and maxIdle (DBUtils test_min_max_cached)', () => {
  it('opens minIdle connections at once and keeps no more than maxIdle idle', async () => {
    const p = pool({ max: 6, minIdle: 2, maxIdle: 3 });
    await flush();
    expect(p.stats()).toMatchObject({ size: 2, idle: 2 });
    const held = await Promise.all([1, 2, 3, 4, 5].map(() => p.acquire()));
    expect(factory.created).toBe(5);
    for (const c of held) p.release(c);
    expect(p.stats()).toMatchObject({ size: 3, idle: 3, destroyed: 2 });
  });

  it('reopens connections up to minIdle after the server killed idle ones', async () => {
    const p = pool({ max: 4, minIdle: 2 });
    await flush();
    const [a, b] = [await p.acquire(), await p.acquire()];
    p.release(a);
    p.release(b);
    kill(a);
    kill(b);
    await flush();
    expect(p.stats()).toMatchObject({ size: 2, idle: 2, destroyed: 2 });
    const next = await p.acquire();
    expect(next.alive).toBe(true);
  });
});

describe('max and blocking (DBUtils test_maxconnections), FIFO waiters', () => {
  it('makes the caller past max wait for a release, then a typed timeout naming the holders', async () => {
    const p = pool({ max: 2, acquireTimeoutMs: 5000 });
    const a = await p.acquire({ holder: 'report job' });
    await vi.advanceTimersByTimeAsync(100);
    const b = await p.acquire();
    const third = p.acquire();
    await flush();
    expect(p.stats().pending).toBe(1);
    p.release(b);
    expect(await third).toBe(b);
    const fourth = p.acquire();
    const failed = expect(fourth).rejects.toBeInstanceOf(PoolTimeoutError);
    await vi.advanceTimersByTimeAsync(5000);
    await failed;
    const error = (await fourth.catch((e: unknown) => e)) as PoolTimeoutError;
    expect(error.code).toBe('DBOP_POOL_TIMEOUT');
    expect(isDbopError(error, 'DBOP_POOL_TIMEOUT')).toBe(true);
    expect(classify(error).kind).toBe('pool-exhausted');
    expect(error.holders[0]).toMatchObject({ heldMs: 5100, holder: 'report job' });
    expect(error.message).toMatch(
      /all 2 of 2 connections are in use.*longest held for 5100 ms by report job/,
    );
    expect(p.stats()).toMatchObject({ timeouts: 1, pending: 0, size: 2 });
    expect(factory.created).toBe(2);
    p.release(a);
  });

  it('fails at once past max with acquireTimeoutMs 0 (DBUtils blocking=False)', async () => {
    const p = pool({ max: 1, acquireTimeoutMs: 0 });
    const a = await p.acquire();
    const second = p.acquire();
    const failed = expect(second).rejects.toBeInstanceOf(PoolTimeoutError);
    await flush();
    await failed;
    p.release(a);
  });

  it('serves 200 waiters on max 1 in the order they came', async () => {
    const p = pool({ max: 1, acquireTimeoutMs: 60_000 });
    const order: number[] = [];
    const first = await p.acquire();
    const waiters = Array.from({ length: 200 }, (_, i) =>
      p.acquire().then((c) => {
        order.push(i);
        p.release(c);
      }),
    );
    expect(p.stats().pending).toBe(200);
    p.release(first);
    await Promise.all(waiters);
    expect(order).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(factory.created).toBe(1);
    // The first acquire waited for the connection to open, the 200 for a release.
    expect(p.stats().waitMs.count).toBe(201);
  });

  it('drops an aborted waiter from the line and rejects it with the signal reason', async () => {
    const p = pool({ max: 1 });
    const a = await p.acquire();
    const controller = new AbortController();
    const aborted = p.acquire({ signal: controller.signal });
    const next = p.acquire();
    controller.abort(new Error('caller gave up'));
    await expect(aborted).rejects.toThrow('caller gave up');
    expect(p.stats().pending).toBe(1);
    p.release(a);
    expect(await next).toBe(a);
    await expect(p.acquire({ signal: AbortSignal.abort(new Error('already')) })).rejects.toThrow('already');
  });

  it('waiters sharing one signal add one abort listener to it, removed once none waits', async () => {
    const p = pool({ max: 1 });
    const a = await p.acquire();
    const controller = new AbortController();
    const listeners = (): number => getEventListeners(controller.signal, 'abort').length;
    const waiters = Array.from({ length: 12 }, () => p.acquire({ signal: controller.signal }));
    expect(listeners()).toBe(1);
    p.release(a);
    expect(await waiters[0]!).toBe(a);
    expect(listeners()).toBe(1);
    controller.abort(new Error('caller gave up'));
    for (const waiter of waiters.slice(1)) await expect(waiter).rejects.toThrow('caller gave up');
    expect(p.stats().pending).toBe(0);
    expect(listeners()).toBe(0);
  });

  it('gives waiting callers the connect error itself while connects fail, then a working connection', async () => {
    factory.failCreates = 2;
    const p = pool({ max: 2 });
    const first = p.acquire();
    const second = p.acquire();
    await expect(first).rejects.toBe(factory.createError);
    const secondFailed = expect(second).rejects.toBe(factory.createError);
    await vi.advanceTimersByTimeAsync(100);
    await secondFailed;
    const later = p.acquire();
    await vi.advanceTimersByTimeAsync(200);
    expect((await later).alive).toBe(true);
    expect(p.stats().connectFailures).toBe(2);
  });

  it('names the last connect error when an acquire times out while connects hang', async () => {
    const p = pool({ max: 2, acquireTimeoutMs: 1000, connectTimeoutMs: 5000 });
    const held = await p.acquire();
    factory.failCreates = 1;
    factory.hangCreates = true;
    await expect(p.acquire()).rejects.toBe(factory.createError);
    const waiting = p.acquire();
    const timedOut = expect(waiting).rejects.toThrow(
      /opening a connection fails \(last error: connect ECONNREFUSED/,
    );
    await vi.advanceTimersByTimeAsync(1000);
    await timedOut;
    expect(((await waiting.catch((e: unknown) => e)) as PoolTimeoutError).cause).toBe(factory.createError);
    p.release(held);
  });
});

describe('release checks (DBUtils test_rollback, test_reset_transaction; issue 12)', () => {
  it('destroys a connection given back inside a transaction', async () => {
    const destroyed = listen(poolChannelNames.destroy);
    const p = pool();
    const a = await p.acquire();
    await factory.execute(a, 'BEGIN');
    p.release(a);
    expect(destroyed).toEqual([expect.objectContaining({ reason: 'in-transaction' })]);
    expect(await p.acquire()).not.toBe(a);
  });

  it("resets a connection whose state the driver cannot tell (reset 'unknown'), and destroys it when reset fails", async () => {
    factory.knowsStatus = false;
    const p = pool();
    const a = await p.acquire();
    p.release(a);
    await flush();
    expect(factory.resets).toBe(1);
    expect(a.session).toEqual(['rollback']);
    expect(await p.acquire()).toBe(a);
    factory.resetFails = true;
    p.release(a);
    await flush();
    expect(p.stats()).toMatchObject({ idle: 0, destroyed: 1 });
  });

  it("reset 'always' resets every release; 'never' none; a known-idle connection is not reset by default", async () => {
    const always = pool({ reset: 'always' });
    const a = await always.acquire();
    always.release(a);
    await flush();
    expect(factory.resets).toBe(1);
    const never = pool({ reset: 'never' });
    factory.knowsStatus = false;
    const b = await never.acquire();
    never.release(b);
    await flush();
    expect(factory.resets).toBe(1);
    factory.knowsStatus = true;
    const byDefault = pool();
    const c = await byDefault.acquire();
    byDefault.release(c);
    await flush();
    expect(factory.resets).toBe(1);
  });

  it.each([0, 3, 7])(
    'retires a connection after maxUsage %i uses (DBUtils test_maxusage)',
    async (maxUsage) => {
      const p = pool({ maxUsage });
      for (let i = 0; i < 20; i++) p.release(await p.acquire());
      expect(factory.created).toBe(maxUsage === 0 ? 1 : Math.ceil(20 / maxUsage));
    },
  );

  it('runs setSession on every new connection, also the one replacing a broken one (DBUtils test_setsession)', async () => {
    const p = pool({ setSession: ["SET TIME ZONE 'UTC'", 'SET search_path TO app'] });
    const a = await p.acquire();
    expect(a.session).toEqual(["SET TIME ZONE 'UTC'", 'SET search_path TO app']);
    p.release(a, connectionLost());
    const b = await p.acquire();
    expect(b).not.toBe(a);
    expect(b.session).toEqual(["SET TIME ZONE 'UTC'", 'SET search_path TO app']);
  });

  it('treats only the errors `failures` names as broken (DBUtils failures)', async () => {
    const p = pool({ failures: (error) => (error as Error).message === 'custom failure' });
    const a = await p.acquire();
    p.release(a, connectionLost());
    expect(await p.acquire()).toBe(a);
    p.release(a, new Error('custom failure'));
    expect(p.stats().destroyed).toBe(1);
  });
});

describe('validation (DBUtils test_ping_check)', () => {
  it("pings only a connection idle longer than validateIdleMs (ping 'idle'), and replaces a dead one", async () => {
    const p = pool({ validateIdleMs: 1000 });
    const a = await p.acquire();
    p.release(a);
    p.release(await p.acquire());
    expect(factory.pings).toBe(0);
    await vi.advanceTimersByTimeAsync(1001);
    p.release(await p.acquire());
    expect(factory.pings).toBe(1);
    await vi.advanceTimersByTimeAsync(1001);
    a.alive = false;
    const next = p.acquire();
    await flush();
    expect(await next).not.toBe(a);
    expect(factory.pings).toBe(2);
    expect(p.stats()).toMatchObject({ destroyed: 1, size: 1 });
  });

  it("pings on every acquire with ping 'acquire' and never with 'never'", async () => {
    const p = pool({ ping: 'acquire' });
    for (let i = 0; i < 5; i++) p.release(await p.acquire());
    expect(factory.pings).toBe(4);
    const q = pool({ ping: 'never' });
    for (let i = 0; i < 5; i++) q.release(await q.acquire());
    await vi.advanceTimersByTimeAsync(5000);
    q.release(await q.acquire());
    expect(factory.pings).toBe(4);
  });

  it('keeps an error listener on every connection: a killed idle one is dropped, a killed busy one destroyed on release', async () => {
    const p = pool({ max: 2 });
    const [a, b] = [await p.acquire(), await p.acquire()];
    p.release(a);
    kill(a);
    expect(p.stats()).toMatchObject({ idle: 0, destroyed: 1 });
    kill(b);
    p.release(b);
    expect(p.stats()).toMatchObject({ idle: 0, destroyed: 2, size: 0 });
    expect((await p.acquire()).alive).toBe(true);
  });
});

describe('shared connections (DBUtils test_shareable_connection, test_max_shared, test_shared_in_transaction)', () => {
  it('shares up to maxShared connections, the least shared first, and never exceeds max', async () => {
    const p = pool({ max: 3, maxShared: 2 });
    const s1 = await p.acquire({ shared: true });
    const s2 = await p.acquire({ shared: true });
    expect(s1).not.toBe(s2);
    const s3 = await p.acquire({ shared: true });
    const s4 = await p.acquire({ shared: true });
    // Both shared connections now have two holders: every acquire spread evenly.
    expect([s1, s2]).toContain(s3);
    expect([s1, s2]).toContain(s4);
    expect(s3).not.toBe(s4);
    const exclusive = await p.acquire();
    expect([s1, s2]).not.toContain(exclusive);
    for (let i = 0; i < 10; i++) await p.acquire({ shared: true });
    expect(p.stats()).toMatchObject({ size: 3, inUse: 3 });
    expect(factory.created).toBe(3);
  });

  it('never shares a connection whose factory cannot tell its transaction state (mysql2)', async () => {
    factory.knowsStatus = false;
    const p = pool({ max: 2, maxShared: 2, acquireTimeoutMs: 0 });
    const a = await p.acquire({ shared: true });
    const b = await p.acquire({ shared: true });
    expect(b).not.toBe(a);
    const third = expect(p.acquire({ shared: true })).rejects.toBeInstanceOf(PoolTimeoutError);
    await vi.advanceTimersByTimeAsync(1);
    await third;
  });

  it('never shares a connection inside a transaction', async () => {
    const p = pool({ max: 2, maxShared: 1, acquireTimeoutMs: 1000 });
    const s1 = await p.acquire({ shared: true });
    await factory.execute(s1, 'BEGIN');
    const s2 = await p.acquire({ shared: true });
    expect(s2).not.toBe(s1);
    const s3 = p.acquire({ shared: true });
    const failed = expect(s3).rejects.toBeInstanceOf(PoolTimeoutError);
    await vi.advanceTimersByTimeAsync(1000);
    await failed;
  });

  it('gives a shared connection back to the pool only when its last holder releases it', async () => {
    const p = pool({ max: 1, maxShared: 1 });
    const s1 = await p.acquire({ shared: true });
    const s2 = await p.acquire({ shared: true });
    expect(s2).toBe(s1);
    p.release(s1);
    expect(p.stats()).toMatchObject({ idle: 0, inUse: 1 });
    p.release(s2);
    expect(p.stats()).toMatchObject({ idle: 1, inUse: 0 });
  });
});

describe('lifetimes, idleness, leaks', () => {
  it('retires connections at maxLifetimeMs minus jitter, idle ones by the sweep and busy ones on release', async () => {
    const p = pool({ max: 2, maxLifetimeMs: 60_000, maxLifetimeJitterMs: 10_000, random: () => 0.5 });
    const a = await p.acquire();
    const b = await p.acquire();
    p.release(a);
    await vi.advanceTimersByTimeAsync(55_000);
    await vi.advanceTimersByTimeAsync(1000);
    expect(factory.destroyedIds).toEqual([a.id]);
    p.release(b);
    expect(factory.destroyedIds).toEqual([a.id, b.id]);
  });

  it('closes idle connections beyond minIdle after idleTimeoutMs', async () => {
    const p = pool({ max: 4, minIdle: 1, idleTimeoutMs: 10_000, maxLifetimeMs: 0 });
    const held = await Promise.all([1, 2, 3].map(() => p.acquire()));
    for (const c of held) p.release(c);
    await vi.advanceTimersByTimeAsync(9000);
    expect(p.stats().idle).toBe(3);
    await vi.advanceTimersByTimeAsync(6000);
    expect(p.stats()).toMatchObject({ idle: 1, size: 1 });
  });

  it('reports a connection held past leakDetectionMs with the stack of whoever acquired it', async () => {
    const leaks = listen(poolChannelNames.leak) as { stack: string; heldMs: number; holder?: string }[];
    const warnings: string[] = [];
    const p = pool({ leakDetectionMs: 2000, logger: { warn: (_o, message) => warnings.push(message) } });
    async function forgetfulHandler(): Promise<FakeConnection> {
      return p.acquire({ holder: 'GET /orders' });
    }
    const c = await forgetfulHandler();
    await vi.advanceTimersByTimeAsync(1500);
    expect(leaks).toEqual([]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(leaks).toHaveLength(1);
    expect(leaks[0]!.stack).toContain('forgetfulHandler');
    expect(leaks[0]!.holder).toBe('GET /orders');
    expect(warnings[0]).toMatch(/held for \d+ ms .*forgetfulHandler/s);
    await vi.advanceTimersByTimeAsync(5000);
    expect(leaks).toHaveLength(1);
    p.release(c);
    expect(p.stats().leaks).toBe(1);
  });
});

describe('close (DBUtils test_close_all)', () => {
  it('rejects waiters and new acquires, waits for borrowed connections, and ends every one', async () => {
    const p = pool({ max: 1 });
    const a = await p.acquire();
    const waiting = p.acquire();
    const closing = p.close();
    await expect(waiting).rejects.toBeInstanceOf(PoolClosedError);
    await expect(p.acquire()).rejects.toThrow('pool is closed');
    let closed = false;
    void closing.then(() => {
      closed = true;
    });
    await flush();
    expect(closed).toBe(false);
    p.release(a);
    await closing;
    expect(factory.destroyed).toBe(1);
  });

  it('ends borrowed connections after closeTimeoutMs', async () => {
    const p = pool({ closeTimeoutMs: 5000 });
    const a = await p.acquire();
    const closing = p.close();
    await vi.advanceTimersByTimeAsync(5000);
    await closing;
    expect(a.alive).toBe(false);
    expect(() => p.release(a)).not.toThrow();
  });
});

describe('stats and channels', () => {
  it('publishes acquire, release, create and destroy with the counts after the event', async () => {
    const acquires = listen(poolChannelNames.acquire);
    const releases = listen(poolChannelNames.release);
    const creates = listen(poolChannelNames.create);
    const p = pool({ name: 'orders', maxUsage: 1 });
    const a = await p.acquire();
    await vi.advanceTimersByTimeAsync(30);
    p.release(a);
    expect(creates).toEqual([expect.objectContaining({ pool: 'orders', ok: true })]);
    expect(acquires).toEqual([expect.objectContaining({ pool: 'orders', inUse: 1, shared: false })]);
    expect(releases).toEqual([expect.objectContaining({ heldMs: 30, inUse: 0 })]);
  });

  it('keeps wait-time percentiles of the acquires that waited', async () => {
    const p = pool({ max: 1 });
    const a = await p.acquire();
    const waits = [10, 20, 30, 40].map(() => p.acquire());
    for (let i = 0; i < 4; i++) {
      await vi.advanceTimersByTimeAsync(10);
      p.release(i === 0 ? a : await waits[i - 1]!);
    }
    p.release(await waits[3]!);
    // The first acquire waited 0 ms for its connection to open.
    expect(p.stats().waitMs).toEqual({ count: 5, p50: 20, p90: 40, p99: 40, max: 40 });
  });
});

describe('options', () => {
  it.each([
    [{ max: 0 }, /`max` to be a positive integer/],
    [{ minIdle: 11 }, /`minIdle`/],
    [{ maxIdle: 1, minIdle: 2, max: 3 }, /`maxIdle` to be at least minIdle/],
    [{ acquireTimeoutMs: -1 }, /`acquireTimeoutMs`/],
    [{ ping: 'sometimes' }, /`ping` to be one of "idle", "acquire", "never"/],
    [{ setSession: 'SET x' }, /`setSession` to be an array/],
    [{ maxLifetimeMs: 1000, maxLifetimeJitterMs: 1000 }, /`maxLifetimeJitterMs`/],
    [{ leakDetectionMs: -1 }, /`leakDetectionMs`/],
    [{ maxConnections: 3 }, /Unknown option `maxConnections`/],
  ])('refuses %o', (options, message) => {
    expect(() => createPool(factory, options as PoolOptions)).toThrow(message);
  });

  it('refuses a factory without create or destroy, and unknown acquire options', async () => {
    expect(() => createPool({} as never)).toThrow(/create\(signal\)/);
    const p = pool();
    expect(() => p.acquire({ timeout: 5 } as never)).toThrow(/Unknown option `timeout` of acquire/);
  });
});

/** A fake factory whose pings wait until `answer()` is called. */
class SlowPingFactory extends FakeFactory {
  readonly #pending: (() => void)[] = [];

  override async ping(connection: FakeConnection): Promise<void> {
    await new Promise<void>((resolve) => this.#pending.push(resolve));
    return super.ping(connection);
  }

  answer(): void {
    for (const resolve of this.#pending.splice(0)) resolve();
  }
}

describe('createPool under attack (pool-attack, issue 12)', () => {
  it('opens a connection for a caller who arrives while an idle one is pinged for another caller', async () => {
    const slow = new SlowPingFactory();
    factory = slow;
    const p = pool({ max: 10, validateIdleMs: 1000, acquireTimeoutMs: 5000 });
    p.release(await p.acquire());
    await vi.advanceTimersByTimeAsync(1001);
    // A takes the idle connection, which is pinged first (idle > validateIdleMs).
    const a = p.acquire();
    a.catch(() => {});
    // B arrives during the ping: the pool has 9 free slots, so B must get a connection of its own.
    const b = p.acquire();
    b.catch(() => {});
    await flush();
    // B's connection opened while A's ping is still out (before: B waited for A's release or its timeout).
    expect(p.stats()).toMatchObject({ size: 2, inUse: 1, checking: 1, pending: 0 });
    slow.answer();
    const [first, second] = await Promise.all([a, b]);
    expect(first).not.toBe(second);
  });

  it('rejects a caller whose connection is being pinged when close() is called, with PoolClosedError at once', async () => {
    const slow = new SlowPingFactory();
    factory = slow;
    const p = pool({ validateIdleMs: 1000, acquireTimeoutMs: 60_000 });
    p.release(await p.acquire());
    await vi.advanceTimersByTimeAsync(1001);
    const a = p.acquire();
    const outcome = a.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await flush();
    const closing = p.close();
    slow.answer();
    await flush();
    await closing;
    // Without the fix the caller waits its whole acquire timeout (60 s here) and gets PoolTimeoutError.
    const settled = await Promise.race([outcome, flush().then(() => 'still waiting')]);
    expect(settled).toBeInstanceOf(PoolClosedError);
  });

  it('one holder of a shared connection destroying it leaves the other holders their release', async () => {
    const p = pool({ max: 1, maxShared: 1 });
    const a = await p.acquire({ shared: true });
    const b = await p.acquire({ shared: true });
    expect(b).toBe(a);
    p.destroy(a);
    // The other holder still holds it: its release must not throw, and the connection ends then.
    expect(() => p.release(b)).not.toThrow();
    await flush();
    expect(a.alive).toBe(false);
    expect(p.stats()).toMatchObject({ size: 0, inUse: 0, idle: 0, destroyed: 1 });
    const next = await p.acquire({ shared: true });
    expect(next).not.toBe(a);
  });

  it('never shares again a connection a sharer destroyed', async () => {
    const p = pool({ max: 2, maxShared: 1 });
    const a = await p.acquire({ shared: true });
    const b = await p.acquire({ shared: true });
    expect(b).toBe(a);
    p.destroy(a);
    const c = await p.acquire({ shared: true });
    expect(c).not.toBe(a);
    p.release(b);
    p.release(c);
  });

  it('refuses a connection the factory already gave it (a factory that returns one client twice)', async () => {
    const same: FakeConnection = { id: 1, session: [], inTransaction: false, alive: true, listeners: [] };
    factory.create = async () => same;
    const p = pool({ max: 2, acquireTimeoutMs: 1000 });
    const a = await p.acquire();
    const b = p.acquire();
    const outcome = b.then(
      () => 'lent twice',
      (error: unknown) => error,
    );
    await vi.advanceTimersByTimeAsync(1001);
    expect(await outcome).toBeInstanceOf(Error);
    p.release(a);
    const stats = p.stats();
    expect(stats.size).toBe(stats.idle + stats.inUse + stats.opening + stats.checking);
    expect(stats.created - stats.destroyed).toBe(stats.size - stats.opening);
  });

  it('hands the first waiter the error of a factory onError() that throws, ends that connection, and keeps its counts', async () => {
    factory.onError = () => {
      throw new Error('onError exploded');
    };
    const p = pool({ max: 1, acquireTimeoutMs: 1000 });
    const outcome = p.acquire().then(
      () => 'lent',
      (error: unknown) => error,
    );
    await flush();
    expect(await outcome).toMatchObject({ message: 'onError exploded' });
    expect(factory.destroyed).toBe(1);
    const stats = p.stats();
    expect(stats).toMatchObject({ size: 0, checking: 0, inUse: 0, idle: 0, connectFailures: 1 });
    expect(stats.created - stats.destroyed).toBe(stats.size - stats.opening);
  });

  it('keeps its counts when the factory status() throws on release', async () => {
    const p = pool({ max: 1, acquireTimeoutMs: 1000 });
    const a = await p.acquire();
    factory.status = () => {
      throw new Error('status exploded');
    };
    expect(() => p.release(a)).not.toThrow();
    await flush();
    const stats = p.stats();
    expect(stats.size).toBe(stats.idle + stats.inUse + stats.opening + stats.checking);
    // The slot is usable again.
    delete (factory as Partial<FakeFactory>).status;
    p.release(await p.acquire());
  });

  it('keeps size = idle + inUse + opening + checking when stats() is read inside a channel message', async () => {
    const seen: PoolStats[] = [];
    let p: Pool<FakeConnection> | undefined;
    const listener = (): void => {
      if (p !== undefined) seen.push(p.stats());
    };
    const names = Object.values(poolChannelNames);
    for (const name of names) subscribe(name, listener);
    try {
      p = pool({ max: 2 });
      const a = await p.acquire();
      const b = await p.acquire();
      p.release(a);
      p.destroy(b);
      await flush();
    } finally {
      for (const name of names) unsubscribe(name, listener);
    }
    expect(seen.length).toBeGreaterThan(3);
    for (const stats of seen) {
      expect(stats.size).toBe(stats.idle + stats.inUse + stats.opening + stats.checking);
      expect(stats.created - stats.destroyed).toBe(stats.size - stats.opening);
    }
  });
});

describe('persistentConnection under attack (pool-attack, issue 12)', () => {
  it('a callback that outlives its run() (a timer) gets no connection of the ended context: none is left open', async () => {
    vi.useRealTimers();
    try {
      await outlives();
    } finally {
      vi.useFakeTimers();
    }
  });

  async function outlives(): Promise<void> {
    const factory = new FakeFactory();
    const persistent = persistentConnection(factory);
    let late!: Promise<unknown>;
    const fired = new Promise<void>((resolve) => {
      void persistent.run(async (db) => {
        await db.query('select 1');
        // Scheduled inside run(), fires after run() closed its connection.
        setTimeout(() => {
          late = Promise.resolve()
            .then(() => persistent.current().query('select late'))
            .catch((error: unknown) => error);
          resolve();
        }, 20);
      });
    });
    await fired;
    expect(await late).toBeInstanceOf(Error);
    // Before: current() handed out the closed steady connection, which reopened and was never closed.
    expect(factory.created - factory.destroyed).toBe(0);
    // A run() from such a callback opens its own context, closed when it ends.
    await new Promise<void>((resolve, reject) => {
      void persistent.run(async () => {
        setTimeout(() => {
          persistent.run((db) => db.query('select again')).then(() => resolve(), reject);
        }, 20);
      });
    });
    expect(factory.created - factory.destroyed).toBe(0);
  }

  it("a nested run() inside the outer run()'s transaction keeps it (a helper that takes the connection through run())", async () => {
    // Found by the pool attack: a nested run() rolled back the transaction open on entry, so a helper called
    // inside the outer transaction undid its first half and the statements after it ran in autocommit.
    const factory = new FakeFactory();
    const persistent = persistentConnection(factory);
    await persistent.run(async (db) => {
      await db.begin();
      await db.query('insert 1');
      await persistent.run((helper) => helper.query('insert 2'));
      expect(db.inTransaction).toBe(true);
      await db.commit();
      expect((await db.connection()).session).toEqual(['BEGIN', 'insert 1', 'insert 2', 'COMMIT']);
    });
  });
});

describe('createPool: a destroy that never finishes (pool-attack, issue 12)', () => {
  it('close() resolves after connectTimeoutMs even when the factory never finishes ending a connection', async () => {
    const signals: AbortSignal[] = [];
    factory.destroy = (_connection: FakeConnection, signal?: AbortSignal) => {
      if (signal !== undefined) signals.push(signal);
      return new Promise<void>(() => {});
    };
    const p = pool({ max: 2, connectTimeoutMs: 1000, closeTimeoutMs: 100 });
    const held = await p.acquire();
    p.release(await p.acquire());
    void held;
    let closed = false;
    void p.close().then(() => {
      closed = true;
    });
    await vi.advanceTimersByTimeAsync(100 + 1000 + 10);
    expect(closed).toBe(true);
    // The factory was told to stop waiting for a graceful end (a driver then drops the socket).
    expect(signals.length).toBe(2);
    expect(signals.every((signal) => signal.aborted)).toBe(true);
  });
});

describe('steadyConnection: a factory that ignores its abort signal (pool-attack, issue 12)', () => {
  it('gives up on the connect after connectTimeoutMs and ends the connection that opens late', async () => {
    const late: FakeConnection = { id: 99, session: [], inTransaction: false, alive: true, listeners: [] };
    let finish!: () => void;
    factory.create = () =>
      new Promise<FakeConnection>((resolve) => {
        finish = () => resolve(late);
      });
    const db = steadyConnection(factory, { connectTimeoutMs: 100, clock: fakeClock });
    const outcome = db.connection().then(
      () => 'connected',
      (error: unknown) => error,
    );
    await vi.advanceTimersByTimeAsync(101);
    expect(await Promise.race([outcome, Promise.resolve('still waiting')])).toBeInstanceOf(Error);
    finish();
    await flush();
    expect(late.alive).toBe(false);
  });
});
