import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createPool, type Pool } from '../../../src/pool/pool.js';
import type { PoolFactory } from '../../../src/pool/pool-factory.js';
import type { PoolOptions } from '../../../src/pool/pool-options.js';
import { fakeClock } from './fake-factory.js';

interface Conn {
  readonly id: number;
}

const pools: Pool<Conn>[] = [];

/** A pool on the fake clock with one connection and a 100 ms connect timeout, closed after the test. */
function onePool(factory: PoolFactory<Conn>, options: PoolOptions = {}): Pool<Conn> {
  const made = createPool(factory, {
    clock: fakeClock,
    max: 1,
    connectTimeoutMs: 100,
    acquireTimeoutMs: 10_000,
    ...options,
  });
  pools.push(made);
  return made;
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(async () => {
  const closing = Promise.all(pools.splice(0).map((made) => made.close()));
  await vi.runAllTimersAsync();
  await closing;
  vi.useRealTimers();
});

/** A factory whose connects never settle until `finish` is called, whatever their signal says. */
function deafFactory(): PoolFactory<Conn> & { finish: () => void; destroyed: number[] } {
  const pending: ((conn: Conn) => void)[] = [];
  let made = 0;
  const destroyed: number[] = [];
  return {
    destroyed,
    create: () =>
      new Promise<Conn>((resolve) => {
        pending.push(resolve);
      }),
    destroy: (conn) => {
      destroyed.push(conn.id);
    },
    finish: () => {
      for (const resolve of pending.splice(0)) {
        made += 1;
        resolve({ id: made });
      }
    },
  };
}

describe('createPool: a factory that ignores its abort signal (attack on issue 12)', () => {
  it('gives up on the connect after connectTimeoutMs, frees the slot, and ends the late connection', async () => {
    const factory = deafFactory();
    const p = onePool(factory, { acquireTimeoutMs: 1000 });
    const first = p.acquire();
    const failed = expect(first).rejects.toThrow(/longer than 100 ms/);
    await vi.advanceTimersByTimeAsync(100);
    await failed;
    // The slot is free again: the stuck connect no longer counts against max.
    expect(p.stats().size).toBe(0);
    // The connect that finally answers is ended, never lent.
    factory.finish();
    await vi.advanceTimersByTimeAsync(0);
    expect(factory.destroyed).toEqual([1]);
    expect(p.stats()).toMatchObject({ size: 0, idle: 0, created: 0, destroyed: 0 });
  });
});

/** Connection 1's ping and reset never answer (a half-open socket), whatever their signal says. */
function hangingChecks(): PoolFactory<Conn> & { destroyed: number[] } {
  let made = 0;
  const destroyed: number[] = [];
  const hang = (conn: Conn): Promise<void> =>
    conn.id === 1 ? new Promise<void>(() => {}) : Promise.resolve();
  return {
    destroyed,
    create: async () => {
      made += 1;
      return { id: made };
    },
    destroy: (conn) => {
      destroyed.push(conn.id);
    },
    ping: hang,
    reset: hang,
    status: () => 'unknown',
  };
}

describe('createPool: a ping or reset that never answers (attack on issue 12)', () => {
  it.each([
    { check: 'ping', modes: { ping: 'acquire', reset: 'never' } },
    { check: 'reset', modes: { ping: 'never', reset: 'always' } },
  ] as const)(
    'ends a connection whose $check hangs past connectTimeoutMs; the waiter gets a new one',
    async ({ modes }) => {
      const factory = hangingChecks();
      const p = onePool(factory, modes);
      p.release(await p.acquire());
      const second = p.acquire();
      await vi.advanceTimersByTimeAsync(100);
      expect(factory.destroyed).toEqual([1]);
      const conn = await second;
      expect(conn.id).toBe(2);
      p.release(conn);
    },
  );
});

describe('createPool: a release handed straight to a waiter (attack on issue 12)', () => {
  it('counts the connection in use by its new holder, with its own holder label and acquire time', async () => {
    let made = 0;
    const factory: PoolFactory<Conn> = {
      create: async () => {
        made += 1;
        return { id: made };
      },
      destroy: () => {},
      status: () => 'idle',
    };
    const p = onePool(factory, { leakDetectionMs: 1000, closeTimeoutMs: 5000 });
    const first = await p.acquire({ holder: 'first' });
    const waiting = p.acquire({ holder: 'second' });
    await vi.advanceTimersByTimeAsync(900);
    p.release(first);
    const second = await waiting;
    expect(p.stats()).toMatchObject({ inUse: 1, idle: 0, size: 1 });
    // Held 900 + 200 ms in all, but only 200 ms by the second holder: no leak yet.
    await vi.advanceTimersByTimeAsync(200);
    expect(p.stats().leaks).toBe(0);
    // close() waits for the second holder instead of resolving with its connection still open.
    let closed = false;
    const closing = p.close().then(() => {
      closed = true;
    });
    await vi.advanceTimersByTimeAsync(100);
    expect(closed).toBe(false);
    p.release(second);
    await closing;
    expect(p.stats()).toMatchObject({ inUse: 0, size: 0 });
  });
});

describe('createPool: a connection the server ends while it opens (attack on issue 12)', () => {
  it('never lends a connection whose driver already reports it broken when the connect resolves', async () => {
    // pg resolves connect() on ReadyForQuery and handles a FATAL in the same TCP chunk before the pool
    // attaches its listener: the client is unusable before anyone holds it.
    let made = 0;
    const broken = new Set<number>([1]);
    const factory: PoolFactory<Conn> = {
      create: async () => {
        made += 1;
        return { id: made };
      },
      destroy: () => {},
      status: (conn) => (broken.has(conn.id) ? 'broken' : 'idle'),
    };
    const p = onePool(factory);
    const acquiring = p.acquire().then(
      (conn) => conn.id,
      () => 'connect failed',
    );
    await vi.advanceTimersByTimeAsync(1000);
    const got = await acquiring;
    expect(got).not.toBe(1);
    expect(p.stats().size).toBeLessThanOrEqual(1);
  });
});

describe('createPool: secrets in a connect error (attack on issue 12)', () => {
  it("keeps a password out of PoolTimeoutError's message when the last connect error carried one", async () => {
    let calls = 0;
    const factory: PoolFactory<Conn> = {
      create: (signal) => {
        calls += 1;
        if (calls === 1) return Promise.resolve({ id: 1 });
        if (calls === 2)
          return Promise.reject(
            new Error('could not connect to postgres://app:hunter2@db.internal:5432/shop'),
          );
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      },
      destroy: () => {},
    };
    const p = onePool(factory, { max: 2, acquireTimeoutMs: 1000, connectTimeoutMs: 5000 });
    const held = await p.acquire();
    await expect(p.acquire()).rejects.toThrow(/could not connect/); // the first waiter gets the connect error itself
    const waiting = p.acquire().catch((error: unknown) => error as Error);
    await vi.advanceTimersByTimeAsync(1000);
    const error = (await waiting) as Error;
    expect(error.message).toMatch(/opening a connection fails \(last error: could not connect to postgres:/);
    expect(error.message).not.toContain('hunter2');
    p.release(held);
  });
});
