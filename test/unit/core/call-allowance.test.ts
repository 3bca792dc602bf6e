import { describe, expect, it } from 'vitest';
import { CallAllowance } from '../../../src/core/call-allowance.js';
import { execute } from '../../../src/core/execute.js';
import { RetryBudget } from '../../../src/core/retry-budget.js';
import { alwaysFailing, TransientError } from './helpers.js';

const zero = { initialDelayMs: 0, maxDelayMs: 0, jitter: 'none' } as const;

describe('CallAllowance (E14)', () => {
  it('calls sharing one allowance make its retries in all, then give up with reason budget', async () => {
    const allowance = new CallAllowance(3, Number.POSITIVE_INFINITY);
    const reasons: string[] = [];
    let attempts = 0;
    for (let call = 0; call < 3; call++) {
      const op = alwaysFailing(new TransientError('busy'));
      await execute(op, {
        policy: { maxRetries: 5, ...zero },
        budget: allowance,
        onGiveUp: (e) => reasons.push(e.reason),
      }).catch(() => undefined);
      attempts += op.calls;
    }
    // 3 first attempts, 3 retries shared.
    expect(attempts).toBe(6);
    expect(allowance.retries).toBe(0);
    expect(reasons).toEqual(['budget', 'budget', 'budget']);
  });

  it('a shared RetryBudget behind it still refuses', () => {
    const shared = new RetryBudget({ ratio: 0, minRetriesPerSecond: 0 });
    const allowance = new CallAllowance(3, Number.POSITIVE_INFINITY, shared);
    allowance.recordCall();
    expect(allowance.tryRetry()).toBe(false);
    expect(allowance.retries).toBe(3);
  });
});
