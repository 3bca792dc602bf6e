import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isDbopError } from '../../../src/core/errors.js';
import { retryPolicy } from '../../../src/core/retry-policy.js';
import { attemptsFromEnv, postgresRetry, retryable, withRetry } from '../../../src/retry-decorators.js';
import { TransientError } from './helpers.js';

const zero = { initialDelayMs: 0, maxDelayMs: 0 } as const;
const always = (): boolean => true;

/** A node-postgres-shaped error (DatabaseError fields), as classify() reads it. */
function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR', routine: 'x' });
}

function counting(error: unknown): { (this: unknown, ...args: number[]): Promise<never>; calls: number } {
  const fn = Object.assign(
    async function failing(): Promise<never> {
      fn.calls++;
      throw error;
    },
    { calls: 0 },
  );
  return fn;
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('attemptsFromEnv', () => {
  it('reads DBOP_RETRIES, then DB_RETRY_RETRIES_NUMBER, then DB_UTILS_RETRIES_NUMBER, else 3', () => {
    expect(attemptsFromEnv({})).toBe(3);
    expect(attemptsFromEnv({ DB_UTILS_RETRIES_NUMBER: '4' })).toBe(4);
    expect(attemptsFromEnv({ DB_UTILS_RETRIES_NUMBER: '4', DB_RETRY_RETRIES_NUMBER: '5' })).toBe(5);
    expect(
      attemptsFromEnv({ DB_UTILS_RETRIES_NUMBER: '4', DB_RETRY_RETRIES_NUMBER: '5', DBOP_RETRIES: '6' }),
    ).toBe(6);
    expect(attemptsFromEnv({ DBOP_RETRIES: ' ', DB_RETRY_RETRIES_NUMBER: '2' })).toBe(2);
  });

  it('rejects a value that is not a positive integer, naming the variable', () => {
    expect(() => attemptsFromEnv({ DBOP_RETRIES: '0' })).toThrow(
      'Expected env DBOP_RETRIES to be a positive integer (total attempts), got "0"',
    );
    expect(() => attemptsFromEnv({ DB_RETRY_RETRIES_NUMBER: 'three' })).toThrow('got "three"');
  });
});

describe('withRetry', () => {
  it('makes 3 attempts by default and rethrows the original error', async () => {
    const error = new TransientError('x');
    const fn = counting(error);
    await expect(withRetry(fn, { classifier: always, policy: zero })()).rejects.toBe(error);
    expect(fn.calls).toBe(3);
  });

  it('reads the attempts from the environment on each call', async () => {
    const fn = counting(new TransientError('x'));
    const retried = withRetry(fn, { classifier: always, policy: zero });
    vi.stubEnv('DBOP_RETRIES', '2');
    await retried().catch(() => {});
    expect(fn.calls).toBe(2);
    vi.stubEnv('DBOP_RETRIES', '5');
    await retried().catch(() => {});
    expect(fn.calls).toBe(7);
  });

  it('lets `attempts`, then a policy with maxRetries, override the environment', async () => {
    vi.stubEnv('DBOP_RETRIES', '6');
    const a = counting(new TransientError('x'));
    await withRetry(a, { classifier: always, attempts: 2, policy: zero })().catch(() => {});
    const b = counting(new TransientError('x'));
    await withRetry(b, { classifier: always, policy: { ...zero, maxRetries: 3 } })().catch(() => {});
    const c = counting(new TransientError('x'));
    await withRetry(c, { classifier: always, policy: retryPolicy({ ...zero, maxRetries: 0 }) })().catch(
      () => {},
    );
    expect([a.calls, b.calls, c.calls]).toEqual([2, 4, 1]);
  });

  it('passes `this` and the arguments through and returns the value', async () => {
    const target = {
      factor: 3,
      times: withRetry(async function times(this: { factor: number }, n: number): Promise<number> {
        return this.factor * n;
      }),
    };
    await expect(target.times(7)).resolves.toBe(21);
  });

  it('classifies with classify() by default: a Postgres deadlock is retried, a constraint violation is not', async () => {
    const deadlock = counting(pgError('40P01', 'deadlock detected'));
    await withRetry(deadlock, { policy: zero })().catch(() => {});
    const unique = counting(pgError('23505', 'duplicate key value violates unique constraint'));
    await withRetry(unique, { policy: zero })().catch(() => {});
    expect([deadlock.calls, unique.calls]).toEqual([3, 1]);
  });

  it('fails where it wraps on a bad option', () => {
    expect(() => withRetry(async () => 1, { attempts: 0 })).toThrow(
      'Expected `attempts` to be a positive integer, got 0',
    );
    expect(() => withRetry(async () => 1, { retires: 2 } as never)).toThrow(
      'Unknown option `retires` of withRetry()',
    );
  });
});

describe('retryable (decorator) and postgresRetry', () => {
  it('retryable(options) replaces the method with a retried one named after it', async () => {
    const info = vi.fn();
    const decorate = retryable({ attempts: 2, classifier: always, policy: zero, logger: { info } });
    let calls = 0;
    const method = async function (this: { base: number }, n: number): Promise<number> {
      if (++calls === 1) throw new TransientError('once');
      return this.base + n;
    };
    const context = { kind: 'method', name: 'add' } as ClassMethodDecoratorContext<
      { base: number },
      typeof method
    >;
    const replaced = decorate(method, context);
    await expect(replaced.call({ base: 40 }, 2)).resolves.toBe(42);
    expect(calls).toBe(2);
    expect(info).toHaveBeenCalledWith(expect.anything(), 'add done');
  });

  it('postgresRetry retries serialization, deadlock and connection errors, and nothing else', async () => {
    vi.stubEnv('DBOP_RETRIES', '2');
    const cases: [string, string, number][] = [
      ['40001', 'could not serialize access due to concurrent update', 2],
      ['40P01', 'deadlock detected', 2],
      ['53300', 'sorry, too many clients already', 2],
      ['55P03', 'canceling statement due to lock timeout', 1],
      ['23505', 'duplicate key value violates unique constraint', 1],
    ];
    for (const [code, message, expected] of cases) {
      const fn = counting(pgError(code, message));
      const error = await postgresRetry(fn)().catch((e: unknown) => e);
      expect([code, fn.calls]).toEqual([code, expected]);
      expect((error as { code: string }).code).toBe(code);
    }
    const refused = counting(
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
    );
    await postgresRetry(refused)().catch(() => undefined);
    expect(refused.calls).toBe(2);
  });

  it('postgresRetry judges a connection lost mid-call as withRetry does: ambiguous, not retried (E9)', async () => {
    vi.stubEnv('DBOP_RETRIES', '3');
    for (const lost of [
      pgError('57P01', 'terminating connection due to administrator command'),
      Object.assign(new Error('Connection terminated unexpectedly'), {}),
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
    ]) {
      const viaPreset = counting(lost);
      const viaWithRetry = counting(lost);
      const presetError = await postgresRetry(viaPreset)().catch((e: unknown) => e);
      const withRetryError = await withRetry(viaWithRetry)().catch((e: unknown) => e);
      expect([lost.message, viaPreset.calls]).toEqual([lost.message, viaWithRetry.calls]);
      expect(viaPreset.calls).toBe(1);
      expect(isDbopError(presetError, 'DBOP_AMBIGUOUS_COMMIT')).toBe(true);
      expect(isDbopError(withRetryError, 'DBOP_AMBIGUOUS_COMMIT')).toBe(true);
      expect((presetError as Error).cause).toBe(lost);
    }
  });

  it('counts like execute and DbOpRunner with `maxRetries`, and refuses both counts at once', async () => {
    vi.stubEnv('DBOP_RETRIES', '9');
    const fn = counting(new TransientError());
    await withRetry(fn, { maxRetries: 2, policy: zero, classifier: always })().catch(() => undefined);
    expect(fn.calls).toBe(3);
    const byAttempts = counting(new TransientError());
    await withRetry(byAttempts, { attempts: 3, policy: zero, classifier: always })().catch(() => undefined);
    expect(byAttempts.calls).toBe(3);
    expect(() => withRetry(fn, { attempts: 3, maxRetries: 2 })).toThrow(
      'Expected one of `attempts` (total) and `maxRetries` (after the first), got both',
    );
    expect(() => withRetry(fn, { maxRetries: -1 })).toThrow(
      'Expected `maxRetries` to be a non-negative integer, got -1',
    );
    expect(() => withRetry(fn, null as never)).toThrow(
      'Expected the options of withRetry() to be an object, got null',
    );
    expect(() => retryable(42 as never)).toThrow(
      'Expected the options of retryable() to be an object, got 42',
    );
  });

  it('works as real TS 5 decorators (compiled by esbuild through tsx)', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/decorated-repo.ts', import.meta.url));
    const tsx = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url));
    const { stdout } = await promisify(execFile)(tsx, [fixture], {
      env: { ...process.env, DBOP_RETRIES: '' },
    });
    expect(JSON.parse(stdout)).toEqual({ doubled: 42, flakyCalls: 3, conflictedCalls: 3, sameError: true });
  }, 30_000);
});
