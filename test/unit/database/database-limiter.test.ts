import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ConcurrencyLimiter } from '../../../src/core/concurrency-limiter.js';
import { createDatabase, type DatabaseOptions } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';

// The context an attempt runs in (src/core/unit-context.ts): the permits it holds and its allowance.
const isUnit = (store: unknown): boolean =>
  typeof store === 'object' && store !== null && 'limiters' in store && 'allowance' in store;

describe('createDatabase: the limiter', () => {
  it('is on by default, one per Database, bounded by the pool and shown in stats()', async () => {
    const db = await createDatabase({ url: 'sqlite::memory:', max: 4 });
    try {
      await db.query('SELECT 1');
      expect(db.stats().limiter).toEqual({ limit: 4, inFlight: 0, queued: 0, decreases: 0, increases: 0 });
    } finally {
      await db.close();
    }
  });

  it("admits db.query's own statement without marking the async context (no AsyncLocalStorage on that path)", async () => {
    const limiter = new ConcurrencyLimiter({ maxLimit: 2 });
    const db = await createDatabase({ url: 'sqlite::memory:', limiter });
    const marked = vi.spyOn(AsyncLocalStorage.prototype, 'run');
    try {
      await db.query('SELECT 1');
      await db.query('CREATE TABLE leaf_statement (id INTEGER)');
      // A statement dbop runs itself starts no unit: nothing nested needs to know it holds a permit.
      expect(marked).not.toHaveBeenCalled();
      expect(limiter.stats()).toMatchObject({ inFlight: 0, queued: 0 });
      // A transaction runs the caller's function, which may start nested units: marked, once per attempt
      // for both its permit and its allowance (E14).
      await db.transaction((connection) => connection.execute('INSERT INTO leaf_statement VALUES (1)'));
      expect(marked.mock.calls.filter(([store]) => isUnit(store))).toHaveLength(1);
    } finally {
      marked.mockRestore();
      await db.close();
    }
  });

  it('limiter: false admits every unit and leaves it out of stats(); a shared one is used as given', async () => {
    const off = await createDatabase({ url: 'sqlite::memory:', limiter: false });
    const shared = new ConcurrencyLimiter({ maxLimit: 3 });
    const on = await createDatabase({ url: 'sqlite::memory:', limiter: shared });
    try {
      expect(off.stats().limiter).toBeUndefined();
      expect(on.stats().limiter?.limit).toBe(3);
    } finally {
      await Promise.all([off.close(), on.close()]);
    }
  });

  it('admits acquire() like a transaction, and a unit nested in it without a second permit', async () => {
    const limiter = new ConcurrencyLimiter({ maxLimit: 1 });
    // A file, so the nested query has a second connection (:memory: has one).
    const dir = mkdtempSync(join(tmpdir(), 'dbop-limiter-'));
    const db = await createDatabase({ url: `sqlite:${join(dir, 'a.db')}`, max: 2, limiter });
    try {
      const order: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const held = db.acquire(async () => {
        order.push('acquire start');
        // Nested in the holder: no second permit, or this would wait for itself at limit 1.
        await db.query('SELECT 1', undefined, { readOnly: true });
        await gate;
        order.push('acquire end');
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      const queued = db.transaction(() => {
        order.push('transaction');
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(db.stats().limiter).toMatchObject({ inFlight: 1, queued: 1 });
      release();
      await Promise.all([held, queued]);
      expect(order).toEqual(['acquire start', 'acquire end', 'transaction']);
      expect(db.stats().limiter).toMatchObject({ inFlight: 0, queued: 0 });
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a limiter that is not a ConcurrencyLimiter', async () => {
    await expect(createDatabase({ url: 'sqlite::memory:', limiter: { limit: 2 } as never })).rejects.toThrow(
      'Expected `limiter` to be a ConcurrencyLimiter or false',
    );
  });

  /**
   * Runs 40 transfers of 1 at once between two accounts of a fresh SQLite file (Database with `options`),
   * checks the books, then hands the Database and its transfer to `then`.
   */
  async function fortyTransfers(
    options: Partial<DatabaseOptions>,
    then: (db: Database, transfer: () => Promise<void>) => Promise<void>,
  ): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'dbop-limiter-'));
    const db = await createDatabase({
      url: `sqlite:${join(dir, 'bank.db')}`,
      max: 8,
      maxRetries: 50,
      ...options,
    });
    try {
      await db.query('CREATE TABLE account (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)');
      await db.query('INSERT INTO account VALUES (1, 100), (2, 100)');
      const transfer = (): Promise<void> =>
        db.transaction(async (conn) => {
          await conn.execute('UPDATE account SET balance = balance - 1 WHERE id = 1');
          await conn.execute('UPDATE account SET balance = balance + 1 WHERE id = 2');
        });
      await Promise.all(Array.from({ length: 40 }, transfer));
      const { rows } = await db.query<{ total: number; moved: number }>(
        'SELECT SUM(balance) AS total, MAX(balance) AS moved FROM account',
      );
      expect(rows[0]).toEqual({ total: 200, moved: 140 });
      await then(db, transfer);
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('in one process, writers on a SQLite file take turns at BEGIN IMMEDIATE: no SQLITE_BUSY, all commit', async () => {
    await fortyTransfers({}, async (db) => {
      // Nothing collided: the limiter saw no contention to cut the limit for.
      const stats = db.stats();
      expect(stats.errors.byCode['sqlite:SQLITE_BUSY'] ?? 0).toBe(0);
      expect(stats.limiter?.limit).toBe(8);
    });
  });

  it('with sqliteLockWaitMs 0, serialises writers on a SQLite file after SQLITE_BUSY, and every transfer commits', async () => {
    await fortyTransfers({ sqliteLockWaitMs: 0 }, async (db, transfer) => {
      const stats = db.stats();
      expect(stats.limiter?.limit).toBeLessThan(8);
      // Once at 1, nothing in this process competes for the write lock any more.
      const busyBefore = stats.errors.byCode['sqlite:SQLITE_BUSY'] ?? 0;
      if (stats.limiter?.limit === 1) {
        await Promise.all(Array.from({ length: 20 }, transfer));
        expect(db.stats().errors.byCode['sqlite:SQLITE_BUSY'] ?? 0).toBe(busyBefore);
      }
    });
  });
});
