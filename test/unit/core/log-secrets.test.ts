import { afterEach, describe, expect, it, vi } from 'vitest';
import { execute } from '../../../src/core/execute.js';
import { retryPolicy } from '../../../src/core/retry-policy.js';
import { withRetry } from '../../../src/retry-decorators.js';

afterEach(() => {
  vi.unstubAllEnvs();
});

// The shape mariadb's connector gives with its default logParam: the SQL and its values after the first line.
const leaky = Object.assign(
  new Error(
    "(conn:7, no: 1205, SQLState: HY000) Lock wait timeout exceeded; try restarting transaction\nsql: UPDATE users SET password=? WHERE id=? - parameters:['hunter2-SECRET',1]",
  ),
  { errno: 1205, sqlState: 'HY000', code: 'ER_LOCK_WAIT_TIMEOUT' },
);

describe('secrets in logs (R3)', () => {
  it('logs only the first line of a driver error, never the parameters after it', async () => {
    const lines: unknown[] = [];
    const record = (obj: unknown, msg: string): void => {
      lines.push({ obj, msg });
    };
    const logger = { warn: record, error: record, info: record };
    const policy = retryPolicy({ maxRetries: 1, initialDelayMs: 0, maxDelayMs: 0 });
    await expect(
      execute(
        () => {
          throw leaky;
        },
        { name: 'save', policy, logger, classifier: () => true },
      ),
    ).rejects.toBe(leaky);
    expect(lines).toHaveLength(2);
    const text = JSON.stringify(lines);
    expect(text).toContain('Lock wait timeout exceeded');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('parameters');
  });
});

describe('withRetry reads the environment at call time', () => {
  it('rejects, never throws synchronously, when DBOP_RETRIES turns bad after wrapping', async () => {
    const wrapped = withRetry(async () => 1);
    vi.stubEnv('DBOP_RETRIES', 'lots');
    let promise: Promise<number> | undefined;
    expect(() => {
      promise = wrapped();
    }).not.toThrow();
    await expect(promise).rejects.toThrow('Expected env DBOP_RETRIES to be a positive integer');
  });
});
