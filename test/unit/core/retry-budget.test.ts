import { describe, expect, it } from 'vitest';
import { RetryBudget } from '../../../src/core/retry-budget.js';
import { FakeClock } from './fake-clock.js';

function drain(budget: RetryBudget): number {
  let granted = 0;
  while (budget.tryRetry()) granted++;
  return granted;
}

describe('RetryBudget', () => {
  it('allows the per-second floor times the window when there is no traffic (10/s over 10 s by default)', () => {
    const budget = new RetryBudget({ clock: new FakeClock() });
    expect(budget.available).toBe(100);
    expect(drain(budget)).toBe(100);
    expect(budget.tryRetry()).toBe(false);
  });

  it('adds `ratio` retries per recorded call (default 20%)', () => {
    const budget = new RetryBudget({ minRetriesPerSecond: 0, clock: new FakeClock() });
    for (let i = 0; i < 4; i++) budget.recordCall();
    expect(budget.tryRetry()).toBe(false);
    budget.recordCall(); // 5 calls * 0.2 = 1 retry
    expect(drain(budget)).toBe(1);
    for (let i = 0; i < 50; i++) budget.recordCall();
    expect(drain(budget)).toBe(10);
  });

  it('frees calls and retries after ttlMs, slot by slot', async () => {
    const clock = new FakeClock(0);
    const budget = new RetryBudget({ ratio: 0.5, minRetriesPerSecond: 0, ttlMs: 1000, clock });
    for (let i = 0; i < 10; i++) budget.recordCall();
    expect(drain(budget)).toBe(5);
    await clock.advance(500);
    for (let i = 0; i < 10; i++) budget.recordCall();
    expect(drain(budget)).toBe(5);
    await clock.advance(500); // the first 10 calls and 5 retries age out
    expect(budget.available).toBe(0);
    await clock.advance(500); // everything aged out
    expect(budget.available).toBe(0);
    budget.recordCall();
    budget.recordCall();
    expect(budget.available).toBe(1);
  });

  it('refills the floor as the window moves', async () => {
    const clock = new FakeClock(0);
    const budget = new RetryBudget({ ratio: 0, minRetriesPerSecond: 2, ttlMs: 1000, clock });
    expect(drain(budget)).toBe(2);
    await clock.advance(999);
    expect(budget.tryRetry()).toBe(false);
    await clock.advance(1);
    expect(drain(budget)).toBe(2);
  });

  it('is deterministic under the injected clock after a long idle gap', async () => {
    const clock = new FakeClock(0);
    const budget = new RetryBudget({ ratio: 1, minRetriesPerSecond: 0, ttlMs: 100, clock });
    budget.recordCall();
    await clock.advance(1e9);
    expect(budget.available).toBe(0);
  });

  it.each([
    [{ ratio: -0.1 }, 'Expected `ratio` to be a finite non-negative number, got -0.1'],
    [
      { minRetriesPerSecond: Number.NaN },
      'Expected `minRetriesPerSecond` to be a finite non-negative number, got NaN',
    ],
    [{ ttlMs: 0 }, 'Expected `ttlMs` to be a finite positive number, got 0'],
    [{ clock: {} }, 'Expected `clock` to be an object with a now() method, got an object'],
    [{ ratioo: 1 }, 'Unknown option `ratioo` of new RetryBudget()'],
  ])('rejects %o', (options, message) => {
    expect(() => new RetryBudget(options as never)).toThrow(message);
  });
});
