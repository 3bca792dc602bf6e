import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { DeadlineExceededError } from '../../../src/core/errors.js';
import { createDatabase } from '../../../src/database/create-database.js';
import { type PoolCreateMessage, poolChannelNames } from '../../../src/pool/pool-channels.js';
import { PoolTimeoutError } from '../../../src/pool/pool-errors.js';

describe("createDatabase and dbop's pool", () => {
  it('passes acquireTimeoutMs to the pool: a caller waiting behind a held connection gets PoolTimeoutError', async () => {
    const db = await createDatabase({
      url: 'sqlite::memory:',
      acquireTimeoutMs: 50,
      limiter: false,
      maxRetries: 0,
    });
    let release!: () => void;
    const held = db.acquire(
      () =>
        new Promise<void>((resolve) => {
          release = resolve;
        }),
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    await expect(db.query('SELECT 1')).rejects.toBeInstanceOf(PoolTimeoutError);
    expect(db.stats().pool).toMatchObject({ total: 1, inUse: 1 });
    release();
    await held;
    await db.close();
  });

  it('a caller aborted or timed out while waiting for a connection leaves the queue at once', async () => {
    const db = await createDatabase({ url: 'sqlite::memory:', limiter: false, maxRetries: 0 });
    let release!: () => void;
    const held = db.acquire(
      () =>
        new Promise<void>((resolve) => {
          release = resolve;
        }),
    );
    const waiting = async (count: number): Promise<void> => {
      for (let i = 0; i < 400 && db.stats().pool.waiting !== count; i++)
        await new Promise((resolve) => setTimeout(resolve, 5));
      expect(db.stats().pool.waiting).toBe(count);
    };
    const controller = new AbortController();
    const aborted = Array.from({ length: 5 }, () =>
      db.transaction((c) => c.execute('SELECT 1'), { signal: controller.signal }),
    );
    await waiting(5);
    const reason = new Error('caller gave up');
    controller.abort(reason);
    for (const call of aborted) await expect(call).rejects.toBe(reason);
    // Gone from the pool's queue while the connection is still held, and no listener left on the signal.
    expect(db.stats().pool).toMatchObject({ total: 1, waiting: 0 });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    // A deadline that passes while waiting takes the caller out of the queue the same way.
    const late = db.transaction((c) => c.execute('SELECT 1'), { deadlineMs: 20 });
    await expect(late).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(db.stats().pool.waiting).toBe(0);
    // Giving up in the queue is the caller's (or the time limit's) doing, not a database error.
    expect(db.stats().errors).toEqual({ total: 0, byKind: {}, byCode: {} });
    release();
    await held;
    await expect(db.query('SELECT 1')).resolves.toBeDefined();
    await db.close();
  });

  it('opens minIdle connections at once, named by the redacted URL', async () => {
    const created: PoolCreateMessage[] = [];
    const listener = (message: unknown): void => {
      created.push(message as PoolCreateMessage);
    };
    subscribe(poolChannelNames.create, listener);
    try {
      const db = await createDatabase({ url: 'sqlite::memory:', minIdle: 1 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(created).toEqual([expect.objectContaining({ pool: 'sqlite::memory:', ok: true })]);
      expect(db.stats().pool).toMatchObject({ total: 1, idle: 1 });
      await db.close();
    } finally {
      unsubscribe(poolChannelNames.create, listener);
    }
  });

  it('validates the pool options with precise messages', async () => {
    await expect(createDatabase({ url: 'sqlite::memory:', acquireTimeoutMs: -1 })).rejects.toThrow(
      /`acquireTimeoutMs`/,
    );
    await expect(createDatabase({ url: 'sqlite::memory:', max: 2, minIdle: 3 })).rejects.toThrow(/`minIdle`/);
    await expect(
      createDatabase({ url: 'sqlite::memory:', leakDetectionMs: 'soon' as never }),
    ).rejects.toThrow(/`leakDetectionMs`/);
  });

  it("takes them for mysql:// URLs too, served around mysql2's own pool (no connection opened here)", async () => {
    const db = await createDatabase({
      url: 'mysql://u:secret@127.0.0.1:1/db',
      idleTimeoutMs: 1000,
      acquireTimeoutMs: 500,
      maxLifetimeMs: 60_000,
      leakDetectionMs: 1000,
    });
    expect(db.stats().pool).toMatchObject({ total: 0, idle: 0, waiting: 0 });
    await db.close();
    await expect(createDatabase({ url: 'mariadb://u@127.0.0.1:1/db', max: 2, minIdle: 3 })).rejects.toThrow(
      /`minIdle`/,
    );
  });

  it("takes them for postgres:// URLs, which are on dbop's pool (no connection opened here)", async () => {
    const db = await createDatabase({
      url: 'postgres://u:secret@127.0.0.1:1/db',
      leakDetectionMs: 1000,
      idleTimeoutMs: 5000,
    });
    expect(db.stats().pool).toMatchObject({ total: 0, idle: 0, waiting: 0 });
    await db.close();
    await expect(createDatabase({ url: 'postgres://u@127.0.0.1:1/db', max: 2, minIdle: 3 })).rejects.toThrow(
      /`minIdle`/,
    );
  });
});
