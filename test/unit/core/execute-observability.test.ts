import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Classification } from '../../../src/core/classification.js';
import { channelNames } from '../../../src/core/diagnostics.js';
import { execute } from '../../../src/core/execute.js';
import { resolveExecuteOptions } from '../../../src/core/resolve-execute-options.js';
import { FakeClock } from './fake-clock.js';
import { alwaysFailing, scripted, TransientError } from './helpers.js';

const deadlock: Classification = {
  kind: 'deadlock',
  retryable: true,
  scope: 'transaction',
  ambiguous: false,
  backend: 'postgres',
  code: '40P01',
};

describe('execute: hooks and logs', () => {
  it('calls onRetry before each sleep, onSuccess once, and logs R3 messages', async () => {
    const clock = new FakeClock(0);
    const onRetry = vi.fn();
    const onSuccess = vi.fn();
    const logger = { warn: vi.fn(), info: vi.fn(), error: vi.fn() };
    const error = new TransientError('deadlock detected');
    const result = execute(scripted('ok', error), {
      name: 'transfer',
      clock,
      classifier: () => deadlock,
      onRetry,
      onSuccess,
      logger,
      policy: { jitter: 'none' },
    });
    await expect(clock.settle(result)).resolves.toBe('ok');
    expect(onRetry).toHaveBeenCalledWith({
      name: 'transfer',
      attempt: 1,
      error,
      delayMs: 100,
      classification: deadlock,
    });
    expect(onSuccess).toHaveBeenCalledWith({ name: 'transfer', attempts: 2, elapsedMs: 100 });
    expect(logger.warn).toHaveBeenCalledWith(
      {
        dialect: 'postgres',
        attempt: 1,
        retryable: true,
        kind: 'deadlock',
        code: '40P01',
        error: 'TransientError: deadlock detected',
        delayMs: 100,
      },
      'transfer failed',
    );
    expect(logger.info).toHaveBeenCalledWith({ attempts: 2, elapsedMs: 100 }, 'transfer done');
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('calls onGiveUp and logs at error when the call fails for good', async () => {
    const onGiveUp = vi.fn();
    const logger = { error: vi.fn() };
    const error = Object.assign(new Error('duplicate key'), { code: '23505' });
    await expect(
      execute(alwaysFailing(error), { name: 'insert', classifier: () => false, onGiveUp, logger }),
    ).rejects.toBe(error);
    expect(onGiveUp).toHaveBeenCalledWith({ name: 'insert', attempt: 1, error, reason: 'not-retryable' });
    expect(logger.error).toHaveBeenCalledWith(
      expect.objectContaining({ attempt: 1, retryable: false, code: '23505', reason: 'not-retryable' }),
      'insert failed',
    );
  });

  it('reports exhaustion as its own reason', async () => {
    const onGiveUp = vi.fn();
    await expect(
      execute(alwaysFailing(new TransientError('x')), {
        onGiveUp,
        policy: { maxRetries: 1, initialDelayMs: 0 },
      }),
    ).rejects.toThrow();
    expect(onGiveUp.mock.calls[0]![0]).toMatchObject({ reason: 'exhausted', attempt: 2 });
  });

  it('never lets a throwing hook change the outcome; the hook failure is logged', async () => {
    const logger = { error: vi.fn() };
    const boom = (): never => {
      throw new Error('hook bug');
    };
    const value = await execute(scripted('ok', new TransientError('1')), {
      onRetry: boom,
      onSuccess: boom,
      logger,
      policy: { initialDelayMs: 0 },
    });
    expect(value).toBe('ok');
    expect(logger.error).toHaveBeenCalledTimes(2);
    expect(logger.error.mock.calls[0]![1]).toBe('op: a hook threw');
  });
});

describe('execute: diagnostics channels', () => {
  const received: [string, Record<string, unknown>][] = [];
  const listeners = Object.values(channelNames).map((name) => {
    const listener = (message: unknown): void => {
      received.push([name, message as Record<string, unknown>]);
    };
    return [name, listener] as const;
  });
  afterEach(() => {
    for (const [name, listener] of listeners) unsubscribe(name, listener);
    received.length = 0;
  });

  it('publishes operation, attempt, error and retry events in order', async () => {
    for (const [name, listener] of listeners) subscribe(name, listener);
    const clock = new FakeClock(0);
    const error = new TransientError('deadlock');
    const result = execute(scripted('ok', error), {
      name: 'transfer',
      clock,
      classifier: () => deadlock,
      policy: { jitter: 'none' },
    });
    await clock.settle(result);
    const summary = received.map(([channel, m]) => `${channel} ${m.phase ?? ''} ${m.attempt ?? ''}`.trim());
    expect(summary).toEqual([
      'dbop:operation start',
      'dbop:attempt start 1',
      'dbop:error  1',
      'dbop:attempt end 1',
      'dbop:retry  1',
      'dbop:attempt start 2',
      'dbop:attempt end 2',
      'dbop:operation end',
    ]);
    const id = received[0]![1].operationId;
    expect(received.every(([, m]) => m.operationId === id)).toBe(true);
    expect(received[2]![1]).toMatchObject({
      name: 'transfer',
      error,
      retryable: true,
      classification: deadlock,
    });
    expect(received[4]![1]).toMatchObject({ delayMs: 100, error, classification: deadlock });
    expect(received[7]![1]).toMatchObject({
      outcome: 'success',
      attempts: 2,
      elapsedMs: 100,
      readOnly: false,
    });
  });

  it("ends a failed operation with outcome 'error', or 'default' under raises: false", async () => {
    subscribe(channelNames.operation, listeners[0]![1]);
    await execute(alwaysFailing(new TransientError('x')), { classifier: () => false }).catch(() => {});
    await execute(alwaysFailing(new TransientError('x')), { classifier: () => false, raises: false });
    const ends = received.filter(([, m]) => m.phase === 'end').map(([, m]) => m.outcome);
    expect(ends).toEqual(['error', 'default']);
  });

  it('exports the contract names', () => {
    expect(channelNames).toEqual({
      operation: 'dbop:operation',
      attempt: 'dbop:attempt',
      retry: 'dbop:retry',
      error: 'dbop:error',
      limiter: 'dbop:limiter',
    });
  });
});

describe('execute: option validation', () => {
  it.each([
    [
      { attemptTimeoutMs: 0 },
      "Expected `attemptTimeoutMs` to be a positive number of milliseconds at most 2147483647 (Node's timer limit; leave it out for no limit), got 0",
    ],
    [
      { deadlineMs: Number.NaN },
      "Expected `deadlineMs` to be a positive number of milliseconds at most 2147483647 (Node's timer limit; leave it out for no limit), got NaN",
    ],
    [
      { retryOn: TransientError },
      'Expected `retryOn` to be an array of error classes or predicates, got a function',
    ],
    [{ retryOn: ['x'] }, 'Expected `retryOn` to be an array of error classes or predicates, got "x"'],
    [{ raises: 'no' }, 'Expected `raises` to be a boolean, got "no"'],
    [{ signal: {} }, 'Expected `signal` to be an AbortSignal, got an object'],
    [{ budget: { tryRetry: () => true } }, 'Expected `budget` to be a RetryBudget, got an object'],
    [
      { clock: { now: () => 0 } },
      'Expected `clock` to be an object with now(), setTimeout() and clearTimeout(), got an object',
    ],
    [
      { policy: { maxRetries: -1 } },
      'Expected `maxRetries` to be a non-negative integer or Infinity, got -1',
    ],
    [{ retries: 3 }, 'Unknown option `retries` of execute()'],
  ])('rejects %o with a precise TypeError, without calling op', async (options, message) => {
    const op = vi.fn();
    await expect(execute(op, options as never)).rejects.toThrow(message);
    await expect(execute(op, options as never)).rejects.toBeInstanceOf(TypeError);
    expect(op).not.toHaveBeenCalled();
  });

  it('rejects an op that is not a function', async () => {
    await expect(execute('SELECT 1' as never)).rejects.toThrow(
      'Expected `op` to be a function, got "SELECT 1"',
    );
  });

  it('accepts a frozen options object on every call (its resolution is memoised)', async () => {
    const options = Object.freeze({
      classifier: () => false,
      policy: Object.freeze({ initialDelayMs: 0 }),
      retryOn: Object.freeze([TransientError]),
    });
    const op = alwaysFailing(new TransientError('x'));
    await expect(execute(op, options)).rejects.toThrow();
    await expect(execute(op, options)).rejects.toThrow();
    expect(op.calls).toBe(2);
    expect(resolveExecuteOptions(options)).toBe(resolveExecuteOptions(options));
  });

  it('reads a frozen options object with a getter on every call: its value may change', async () => {
    let raises = true;
    const options = Object.freeze({
      classifier: () => false,
      get raises() {
        return raises;
      },
      default: 'fallback',
    });
    const op = alwaysFailing(new TransientError('x'));
    await expect(execute(op, options)).rejects.toThrow('x');
    raises = false;
    await expect(execute(op, options)).resolves.toBe('fallback');
  });
});

// Object.freeze is shallow: a frozen options object may hold a policy options object, a retryOn array or a
// target that still change after a first call. Each call must use, and validate, what they hold then.
describe('execute: frozen options holding objects that are not frozen', () => {
  it('retries as often as the nested policy options say at call time', async () => {
    const policy = { maxRetries: 0, initialDelayMs: 0 };
    const options = Object.freeze({ classifier: () => true, policy });
    const op = alwaysFailing(new TransientError('x'));
    await expect(execute(op, options)).rejects.toThrow('x');
    policy.maxRetries = 2;
    await expect(execute(op, options)).rejects.toThrow('x');
    expect(op.calls).toBe(1 + 3);
  });

  it('refuses a bad value put in a nested object after a first good call', async () => {
    const policy: Record<string, unknown> = { maxRetries: 0 };
    const retryOn: unknown[] = [TransientError];
    const target: Record<string, unknown> = { system: 'postgresql' };
    const options = Object.freeze({ policy, retryOn, target }) as never;
    const op = vi.fn(async () => 'ok');
    await expect(execute(op, options)).resolves.toBe('ok');
    policy.maxRetries = -1;
    await expect(execute(op, options)).rejects.toThrow('Expected `maxRetries` to be a non-negative integer');
    policy.maxRetries = 0;
    retryOn.push('TransientError');
    await expect(execute(op, options)).rejects.toThrow('Expected `retryOn` to be an array');
    retryOn.pop();
    target.port = 0;
    await expect(execute(op, options)).rejects.toThrow('Expected `target.port` to be a port number');
    expect(op).toHaveBeenCalledTimes(1);
  });
});
