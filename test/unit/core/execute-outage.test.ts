import { describe, expect, it } from 'vitest';
import type { Classification } from '../../../src/core/classification.js';
import { execute } from '../../../src/core/execute.js';
import { FakeClock } from './fake-clock.js';
import { alwaysFailing, TransientError } from './helpers.js';

const verdict =
  (kind: Classification['kind'], ambiguous = false) =>
  (): Classification => ({ kind, retryable: true, scope: 'connection', ambiguous });
const policy = { maxRetries: 2, initialDelayMs: 100, maxDelayMs: 400, jitter: 'none' } as const;
const half = (): number => 0.5;

describe('execute: riding out a server outage (E16)', () => {
  it('retries a connect failure past maxRetries until outageMs after the call began, ~maxDelayMs apart', async () => {
    const clock = new FakeClock(0);
    const op = alwaysFailing(new TransientError('ECONNREFUSED'));
    const result = execute(op, {
      clock,
      random: half,
      policy,
      classifier: verdict('connect-failed'),
      outageMs: 3000,
    });
    await expect(clock.settle(result)).rejects.toBeInstanceOf(TransientError);
    // 100 + 200, then 300 ms apart (400 x 0.75) while less than 3000 ms have passed.
    expect(clock.now()).toBe(300 + 300 * 9);
    expect(op.calls).toBe(12);
  });

  it('counts only, as before, for other kinds, ambiguous losses, or outageMs 0 (the default)', async () => {
    for (const options of [
      { classifier: verdict('serialization'), outageMs: 3000 },
      { classifier: verdict('connection-lost', true), idempotent: true, outageMs: 3000 },
      { classifier: verdict('connect-failed') },
    ]) {
      const clock = new FakeClock(0);
      const op = alwaysFailing(new TransientError('x'));
      await clock.settle(execute(op, { clock, random: half, policy, ...options })).catch(() => undefined);
      expect(op.calls).toBe(3);
    }
  });

  it('the deadline still rules', async () => {
    const clock = new FakeClock(0);
    const op = alwaysFailing(new TransientError('ECONNREFUSED'));
    const result = execute(op, {
      clock,
      random: half,
      policy,
      classifier: verdict('server-starting'),
      outageMs: 10_000,
      deadlineMs: 1000,
    });
    await expect(clock.settle(result)).rejects.toBeInstanceOf(TransientError);
    expect(clock.now()).toBeLessThan(1000);
  });
});
