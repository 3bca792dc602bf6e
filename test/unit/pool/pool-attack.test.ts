import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { persistentConnection } from '../../../src/pool/persistent-connection.js';
import { createPool, type Pool, type PoolStats } from '../../../src/pool/pool.js';
import { poolChannelNames } from '../../../src/pool/pool-channels.js';
import { PoolClosedError } from '../../../src/pool/pool-errors.js';
import type { PoolOptions } from '../../../src/pool/pool-options.js';
import { steadyConnection } from '../../../src/pool/steady-connection.js';
import { type FakeConnection, FakeFactory, fakeClock } from './fake-factory.js';

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

beforeEach(() => {
  vi.useFakeTimers();
  factory = new FakeFactory();
});

afterEach(async () => {
  if (factory instanceof SlowPingFactory) factory.answer();
  const closing = Promise.all(pools.splice(0).map((made) => made.close()));
  await vi.runAllTimersAsync();
  await closing;
  vi.useRealTimers();
});

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

  it.fails("a nested run() inside the outer run()'s transaction keeps it (a helper that takes the connection through run())", async () => {
    // By design (docs/pools.md, dbutils-persistent "rolls back a transaction a previous step left open") a
    // nested run() rolls back the transaction open on entry; a helper called inside the outer transaction
    // thereby rolls back its first half, and the statements after it run in autocommit. Left as a finding:
    // telling "a step left it open" from "the enclosing step is in it" changes the documented contract.
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
