import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ConcurrencyLimiter } from '../../../src/core/concurrency-limiter.js';
import { execute } from '../../../src/execute.js';

const policy = { maxRetries: 5, initialDelayMs: 0, maxDelayMs: 0, jitter: 'none' } as const;
const transient = (): Error => Object.assign(new Error('could not serialize access'), { code: '40001' });

/**
 * Runs `later` in a continuation registered inside an attempt of a call (as a timer, an emitter or a pool
 * started there would) and released only once that call has returned: it keeps the attempt's async context.
 */
async function afterCall<T>(options: Parameters<typeof execute>[1], later: () => Promise<T>): Promise<T> {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let leftover!: Promise<T>;
  await execute(async () => {
    leftover = gate.then(later);
  }, options);
  release();
  return leftover;
}

// Work an attempt leaves behind runs after its call ended: the calls it makes then are not nested in it.
describe('a call made by what an ended attempt left running', () => {
  it("has its own retries, not the ended call's spent allowance", async () => {
    let attempts = 0;
    const value = await afterCall({ policy: { ...policy, maxRetries: 0 } }, () =>
      execute(
        async () => {
          attempts++;
          if (attempts < 3) throw transient();
          return 'done';
        },
        { policy },
      ),
    );
    expect(value).toBe('done');
    expect(attempts).toBe(3);
  });

  it('is admitted by the limiter whose permit the ended call held', async () => {
    const limiter = new ConcurrencyLimiter({ minLimit: 1, maxLimit: 1 });
    let running = 0;
    let peak = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const unit = async (): Promise<void> => {
      running++;
      peak = Math.max(peak, running);
      await held;
      running--;
    };
    await afterCall({ limiter }, async () => {
      const calls = [execute(unit, { limiter }), execute(unit, { limiter })];
      for (let i = 0; i < 5; i++) await tick();
      release();
      await Promise.all(calls);
    });
    expect(peak).toBe(1);
  });
});
