import { describe, expect, it } from 'vitest';
import { LocalPool } from '../../../src/database/local-pool.js';

function counterPool(max: number): { pool: LocalPool<number>; destroyed: number[] } {
  let next = 0;
  const destroyed: number[] = [];
  const pool = new LocalPool<number>(
    {
      create: async () => {
        next += 1;
        return next;
      },
      destroy: async (item) => {
        destroyed.push(item);
      },
    },
    max,
  );
  return { pool, destroyed };
}

describe('LocalPool', () => {
  it('creates up to max, then queues callers in order', async () => {
    const { pool } = counterPool(2);
    const a = await pool.acquire();
    const b = await pool.acquire();
    const order: number[] = [];
    const c = pool.acquire().then((item) => order.push(item));
    const d = pool.acquire().then((item) => order.push(item));
    expect(pool.counts()).toEqual({ total: 2, idle: 0, waiting: 2 });
    await pool.release(b, false);
    await pool.release(a, false);
    await Promise.all([c, d]);
    expect(order).toEqual([b, a]);
  });

  it('replaces a destroyed item for the next waiter', async () => {
    const { pool, destroyed } = counterPool(1);
    const a = await pool.acquire();
    const waiting = pool.acquire();
    await pool.release(a, true);
    expect(destroyed).toEqual([a]);
    expect(await waiting).toBe(2);
    expect(pool.counts()).toEqual({ total: 1, idle: 0, waiting: 0 });
  });

  it('close() destroys idle items, rejects waiters and destroys the rest on release', async () => {
    const { pool, destroyed } = counterPool(1);
    const a = await pool.acquire();
    const waiting = pool.acquire();
    await pool.close();
    await expect(waiting).rejects.toThrow('closed');
    await pool.release(a, false);
    expect(destroyed).toEqual([a]);
    await expect(pool.acquire()).rejects.toThrow('closed');
  });
});
