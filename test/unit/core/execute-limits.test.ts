import { getEventListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import type { AttemptContext } from '../../../src/core/attempt.js';
import type { Classification } from '../../../src/core/classification.js';
import {
  AmbiguousCommitError,
  AttemptStillRunningError,
  AttemptTimeoutError,
  DeadlineExceededError,
  isAmbiguousCommitError,
  isAttemptTimeoutError,
  isDeadlineExceededError,
} from '../../../src/core/errors.js';
import { execute } from '../../../src/core/execute.js';
import { RetryBudget } from '../../../src/core/retry-budget.js';
import { FakeClock, flush } from './fake-clock.js';
import { alwaysFailing, hang, recordingScope, scripted, TransientError, untilAborted } from './helpers.js';

const none = { jitter: 'none' } as const;

describe('execute: attempt timeout (E6)', () => {
  it('aborts the attempt signal with AttemptTimeoutError, rolls back without waiting for the hung op, and retries', async () => {
    const clock = new FakeClock(0);
    const scope = recordingScope();
    const seen: AttemptContext[] = [];
    const op = (c: AttemptContext): Promise<string> | string => {
      seen.push(c);
      return c.attempt === 1 ? hang() : 'second try';
    };
    const result = execute(op, { clock, scope: scope.factory, attemptTimeoutMs: 500, policy: none });
    await expect(clock.settle(result)).resolves.toBe('second try');
    expect(scope.log).toEqual(['begin 1', 'rollback 1 AttemptTimeoutError', 'begin 2', 'commit 2']);
    const first = seen[0]!;
    expect(first.signal.aborted).toBe(true);
    expect(isAttemptTimeoutError(first.signal.reason)).toBe(true);
    expect(first.signal.reason).toMatchObject({ code: 'DBOP_ATTEMPT_TIMEOUT', attempt: 1, timeoutMs: 500 });
    expect(seen[1]!.signal.aborted).toBe(false);
    expect(seen[1]!.startedAt).toBe(600); // 500 ms timeout, then 100 ms backoff
  });

  it('rejects with AttemptTimeoutError when every attempt times out, or returns default with raises false', async () => {
    const clock = new FakeClock(0);
    const policy = { maxRetries: 2, ...none };
    const result = execute(untilAborted, { clock, attemptTimeoutMs: 50, policy });
    await expect(clock.settle(result)).rejects.toBeInstanceOf(AttemptTimeoutError);
    const withDefault = execute(untilAborted, {
      clock,
      attemptTimeoutMs: 50,
      policy,
      raises: false,
      default: -1,
    });
    await expect(clock.settle(withDefault)).resolves.toBe(-1);
  });

  it('retries a timeout even when retryOn lists only other errors (E6 says retryable)', async () => {
    const clock = new FakeClock(0);
    let calls = 0;
    const op = (c: AttemptContext): Promise<string> | string => (++calls === 1 ? untilAborted(c) : 'ok');
    const result = execute(op, { clock, attemptTimeoutMs: 10, retryOn: [TransientError] });
    await expect(clock.settle(result)).resolves.toBe('ok');
  });

  it('times out a hung begin and a hung preAttempt too, and rolls back what begin may have opened', async () => {
    const clock = new FakeClock(0);
    const scope = recordingScope({ begin: (c) => (c.attempt === 1 ? hang() : undefined) });
    const preAttempt = (c: AttemptContext): unknown => (c.attempt === 2 ? hang() : undefined);
    const result = execute(() => 'ok', { clock, scope: scope.factory, preAttempt, attemptTimeoutMs: 20 });
    await expect(clock.settle(result)).resolves.toBe('ok');
    expect(scope.log).toEqual([
      'begin 1',
      'rollback 1 AttemptTimeoutError',
      'begin 2',
      'rollback 2 AttemptTimeoutError',
      'begin 3',
      'commit 3',
    ]);
  });

  it('does not interrupt a slow commit: the attempt limit does not cover COMMIT', async () => {
    const clock = new FakeClock(0);
    const scope = recordingScope({
      commit: () => new Promise<void>((resolve) => clock.setTimeout(() => resolve(), 1000)),
    });
    const result = execute(() => 'ok', { clock, scope: scope.factory, attemptTimeoutMs: 100 });
    await expect(clock.settle(result)).resolves.toBe('ok');
    expect(scope.log).toEqual(['begin 1', 'commit 1']);
  });

  it('clears its timer when the attempt ends in time', async () => {
    const clock = new FakeClock(0);
    await clock.settle(execute(() => 'ok', { clock, attemptTimeoutMs: 100 }));
    expect(clock.pending).toBe(0);
  });

  it('reports the time left through remainingMs(), clamped to the deadline', async () => {
    const clock = new FakeClock(0);
    const remaining: number[] = [];
    const op = async (c: AttemptContext): Promise<void> => {
      remaining.push(c.remainingMs());
      await new Promise<void>((resolve) => clock.setTimeout(() => resolve(), 40));
      remaining.push(c.remainingMs());
    };
    await clock.settle(execute(op, { clock, attemptTimeoutMs: 100 }));
    await clock.settle(execute(op, { clock, attemptTimeoutMs: 1000, deadlineMs: 70 }));
    expect(remaining).toEqual([100, 60, 70, 30]);
  });
});

describe('execute: attempts never overlap (E13)', () => {
  const late = (clock: FakeClock, ms: number, value: string): Promise<string> =>
    new Promise((resolve) => clock.setTimeout(() => resolve(value), ms));

  it('awaits an op without a scope that outlives its limit: its late value is the result, no second attempt', async () => {
    const clock = new FakeClock(0);
    const started: number[] = [];
    const op = (c: AttemptContext): Promise<string> => {
      started.push(c.attempt);
      return late(clock, 1500, `done by ${c.attempt}`);
    };
    const result = execute(op, { clock, attemptTimeoutMs: 300, policy: none });
    await expect(clock.settle(result)).resolves.toBe('done by 1');
    expect(started).toEqual([1]);
    expect(clock.now()).toBe(1500);
  });

  it('still running at the cleanup limit: AttemptStillRunningError (ambiguous), cause the timeout, not retried', async () => {
    const clock = new FakeClock(0);
    const onGiveUp = vi.fn();
    let calls = 0;
    const op = (): Promise<never> => {
      calls++;
      return hang();
    };
    const result = execute(op, {
      clock,
      attemptTimeoutMs: 100,
      cleanupTimeoutMs: 400,
      policy: none,
      onGiveUp,
    });
    const error = await clock.settle(result).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttemptStillRunningError);
    expect(error).toBeInstanceOf(AmbiguousCommitError);
    expect(isAmbiguousCommitError(error)).toBe(true);
    expect(isAttemptTimeoutError((error as Error).cause)).toBe(true);
    expect(calls).toBe(1);
    expect(clock.now()).toBe(500);
    expect(onGiveUp.mock.calls[0]![0]).toMatchObject({ reason: 'ambiguous', attempt: 1 });
  });

  it('readOnly or idempotent work is retried after the wait; the default cleanup limit is 5000 ms', async () => {
    for (const flag of [{ readOnly: true }, { idempotent: true }]) {
      const clock = new FakeClock(0);
      const starts: number[] = [];
      const op = (c: AttemptContext): Promise<string> | string => {
        starts.push(clock.now());
        return c.attempt === 1 ? hang() : 'second';
      };
      const result = execute(op, { clock, attemptTimeoutMs: 100, policy: none, ...flag });
      await expect(clock.settle(result)).resolves.toBe('second');
      expect(starts).toEqual([0, 5200]); // 100 ms limit, 5000 ms wait, 100 ms backoff
    }
  });

  it('an op that fails after its limit is retried; the wait ends at the deadline', async () => {
    const clock = new FakeClock(0);
    const op = (c: AttemptContext): Promise<string> | string =>
      c.attempt === 1
        ? new Promise((_, reject) => clock.setTimeout(() => reject(new TransientError('late')), 700))
        : 'ok';
    await expect(clock.settle(execute(op, { clock, attemptTimeoutMs: 100, policy: none }))).resolves.toBe(
      'ok',
    );
    const hung = execute(() => hang(), { clock, attemptTimeoutMs: 100, deadlineMs: 1000, policy: none });
    const start = clock.now();
    await expect(clock.settle(hung)).rejects.toBeInstanceOf(AttemptStillRunningError);
    expect(clock.now() - start).toBe(1000);
  });

  it('a preAttempt that ends after the limit is awaited, then the op runs in a new attempt', async () => {
    const clock = new FakeClock(0);
    const ran: number[] = [];
    const preAttempt = (c: AttemptContext): unknown =>
      c.attempt === 1 ? late(clock, 700, 'ready') : undefined;
    const op = (c: AttemptContext): string => {
      ran.push(c.attempt);
      return 'ok';
    };
    const result = execute(op, { clock, preAttempt, attemptTimeoutMs: 100, policy: none });
    await expect(clock.settle(result)).resolves.toBe('ok');
    expect(ran).toEqual([2]);
    expect(clock.now()).toBe(800); // 700 ms until the preAttempt ended, then 100 ms backoff
  });

  it("the caller's abort ends the wait at once, rejecting with its reason", async () => {
    const clock = new FakeClock(0);
    const controller = new AbortController();
    const reason = new Error('stop');
    clock.setTimeout(() => controller.abort(reason), 1000);
    const result = execute(() => hang(), { clock, attemptTimeoutMs: 100, signal: controller.signal });
    await expect(clock.settle(result)).rejects.toBe(reason);
    expect(clock.now()).toBe(1000);
  });
});

describe('execute: deadline (E7)', () => {
  it('does not take a sleep that would cross the deadline; rethrows the last error', async () => {
    const clock = new FakeClock(0);
    const errors = [new TransientError('1'), new TransientError('2'), new TransientError('3')];
    const op = scripted('never', ...errors);
    const onGiveUp = vi.fn();
    const result = execute(op, { clock, deadlineMs: 250, policy: none, onGiveUp });
    await expect(clock.settle(result)).rejects.toBe(errors[1]);
    // Attempt 2 started after the 100 ms sleep; the next 200 ms sleep would cross 250, so it was not taken.
    expect(op.contexts.map((c) => c.startedAt)).toEqual([0, 100]);
    expect(clock.now()).toBe(100);
    expect(onGiveUp.mock.calls[0]![0]).toMatchObject({ reason: 'deadline', attempt: 2 });
  });

  it('returns default at the deadline with raises false', async () => {
    const clock = new FakeClock(0);
    const result = execute(alwaysFailing(new TransientError('x')), {
      clock,
      deadlineMs: 250,
      policy: none,
      raises: false,
      default: 0,
    });
    await expect(clock.settle(result)).resolves.toBe(0);
  });

  it('aborts an attempt still running at the deadline with DeadlineExceededError (cause: the previous error), not retried', async () => {
    const clock = new FakeClock(0);
    const first = new TransientError('first');
    const scope = recordingScope();
    let calls = 0;
    const op = (): Promise<never> => (++calls === 1 ? Promise.reject(first) : hang());
    const result = execute(op, {
      clock,
      scope: scope.factory,
      deadlineMs: 300,
      attemptTimeoutMs: 1000,
      policy: none,
    });
    const error = await clock.settle(result).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect(isDeadlineExceededError(error)).toBe(true);
    expect((error as DeadlineExceededError).cause).toBe(first);
    expect(clock.now()).toBe(300);
    expect(calls).toBe(2);
    expect(scope.log).toEqual([
      'begin 1',
      'rollback 1 TransientError',
      'begin 2',
      'rollback 2 DeadlineExceededError',
    ]);
  });
});

describe('execute: caller signal (E8)', () => {
  it('does not call op when the signal is already aborted', async () => {
    const op = vi.fn(() => 1);
    const reason = new Error('shutting down');
    await expect(execute(op, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(op).not.toHaveBeenCalled();
  });

  it('stops a running attempt at once with signal.reason, after rolling back, even with raises false', async () => {
    const clock = new FakeClock(0);
    const controller = new AbortController();
    const scope = recordingScope();
    let attemptSignal: AbortSignal | undefined;
    const op = (c: AttemptContext): Promise<never> => {
      attemptSignal = c.signal;
      return hang();
    };
    const result = execute(op, {
      clock,
      signal: controller.signal,
      scope: scope.factory,
      raises: false,
      default: 1,
    });
    await clock.advance(10);
    const reason = new Error('user left');
    controller.abort(reason);
    await expect(result).rejects.toBe(reason);
    expect(attemptSignal?.reason).toBe(reason);
    expect(scope.log).toEqual(['begin 1', 'rollback 1 Error']);
  });

  it('stops during a backoff sleep without another attempt', async () => {
    const clock = new FakeClock(0);
    const controller = new AbortController();
    const op = alwaysFailing(new TransientError('x'));
    const onGiveUp = vi.fn();
    const result = execute(op, { clock, signal: controller.signal, policy: none, onGiveUp });
    result.catch(() => {});
    await clock.advance(50); // first attempt failed, sleeping 100 ms
    expect(clock.pending).toBe(1);
    controller.abort('stop');
    await expect(result).rejects.toBe('stop');
    expect(op.calls).toBe(1);
    expect(clock.pending).toBe(0);
    expect(onGiveUp.mock.calls[0]![0]).toMatchObject({ reason: 'aborted', error: 'stop' });
  });

  it('calls sharing one signal add one abort listener to it, running and sleeping, and none once done', async () => {
    const clock = new FakeClock(0);
    const controller = new AbortController();
    const listeners = (): number => getEventListeners(controller.signal, 'abort').length;
    const started: Array<() => void> = [];
    // Each call: an attempt that waits to be let go, fails once, sleeps 100 ms, then succeeds.
    const op = (c: AttemptContext): Promise<number> =>
      new Promise((resolve, reject) => {
        started.push(() => (c.attempt === 1 ? reject(new TransientError('x')) : resolve(c.attempt)));
      });
    const calls = Array.from({ length: 20 }, () =>
      execute(op, { clock, signal: controller.signal, attemptTimeoutMs: 1000, policy: none }),
    );
    expect(started).toHaveLength(20);
    expect(listeners()).toBe(1);
    for (const fail of started.splice(0)) fail();
    await flush();
    expect(clock.pending).toBe(20); // 20 sleeps
    expect(listeners()).toBe(1);
    await clock.advance(100);
    expect(started).toHaveLength(20);
    expect(listeners()).toBe(1);
    for (const succeed of started.splice(0)) succeed();
    await expect(Promise.all(calls)).resolves.toEqual(Array(20).fill(2));
    expect(listeners()).toBe(0);
    // Aborted, every call still running leaves at once with the reason, and the listener goes too.
    const stopped = Array.from({ length: 12 }, () => execute(hang, { clock, signal: controller.signal }));
    expect(listeners()).toBe(1);
    const reason = new Error('user left');
    controller.abort(reason);
    for (const call of stopped) await expect(call).rejects.toBe(reason);
    expect(listeners()).toBe(0);
  });

  it('sleeps with a signal on a clock that runs its timers at once (a test clock that only records delays)', async () => {
    const delays: number[] = [];
    const clock = {
      now: () => 0,
      setTimeout: (callback: () => void, ms: number): unknown => {
        delays.push(ms);
        callback();
        return undefined;
      },
      clearTimeout: () => {},
    };
    const op = scripted('done', new TransientError('x'), new TransientError('y'));
    const controller = new AbortController();
    await expect(execute(op, { clock, signal: controller.signal, policy: none })).resolves.toBe('done');
    expect(delays).toEqual([100, 200]);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('removes its listener from the caller signal after each attempt', async () => {
    const controller = new AbortController();
    const add = vi.spyOn(controller.signal, 'addEventListener');
    const remove = vi.spyOn(controller.signal, 'removeEventListener');
    for (let i = 0; i < 3; i++) await execute(() => i, { signal: controller.signal });
    expect(add).toHaveBeenCalledTimes(3);
    expect(remove).toHaveBeenCalledTimes(3);
  });
});

describe('execute: ambiguous outcomes (E9)', () => {
  const ambiguous: Classification = {
    kind: 'connection-lost',
    retryable: false,
    scope: 'connection',
    ambiguous: true,
  };
  const lost = Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });

  it('does not retry an ambiguous failure unless idempotent: AmbiguousCommitError with the original as cause', async () => {
    const op = alwaysFailing(lost);
    const error = await execute(op, { classifier: () => ambiguous }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AmbiguousCommitError);
    expect(isAmbiguousCommitError(error)).toBe(true);
    expect((error as Error).cause).toBe(lost);
    expect(op.calls).toBe(1);
  });

  it('retries an ambiguous failure when idempotent is true', async () => {
    const op = scripted('ok', lost);
    await expect(
      execute(op, { classifier: () => ambiguous, idempotent: true, policy: { initialDelayMs: 0 } }),
    ).resolves.toBe('ok');
  });

  it('rethrows an AmbiguousCommitError from a session as is, not wrapped twice', async () => {
    const fromSession = new AmbiguousCommitError('transfer', { cause: lost });
    await expect(execute(alwaysFailing(fromSession))).rejects.toBe(fromSession);
  });
});

describe('execute: retry budget (E11)', () => {
  it('fails fast with the original error when the budget refuses the retry', async () => {
    const budget = new RetryBudget({ ratio: 0, minRetriesPerSecond: 0, clock: new FakeClock() });
    const error = new TransientError('x');
    const op = alwaysFailing(error);
    const onGiveUp = vi.fn();
    await expect(execute(op, { budget, onGiveUp })).rejects.toBe(error);
    expect(op.calls).toBe(1);
    expect(onGiveUp.mock.calls[0]![0]).toMatchObject({ reason: 'budget' });
  });

  it('is shared by calls: retries stop once the shared floor is spent', async () => {
    const budget = new RetryBudget({
      ratio: 0,
      minRetriesPerSecond: 0.3,
      ttlMs: 10_000,
      clock: new FakeClock(),
    });
    const policy = { maxRetries: 5, initialDelayMs: 0, maxDelayMs: 0 };
    const a = alwaysFailing(new TransientError('a'));
    const b = alwaysFailing(new TransientError('b'));
    await expect(execute(a, { budget, policy })).rejects.toThrow('a');
    await expect(execute(b, { budget, policy })).rejects.toThrow('b');
    expect([a.calls, b.calls]).toEqual([4, 1]); // 0.3/s * 10 s = 3 retries in all
  });

  it('spends no token on a retry the deadline forbids', async () => {
    const clock = new FakeClock(0);
    const budget = new RetryBudget({ ratio: 0, minRetriesPerSecond: 0.1, ttlMs: 10_000, clock });
    const result = execute(alwaysFailing(new TransientError('x')), {
      clock,
      budget,
      deadlineMs: 50,
      policy: none,
    });
    await expect(clock.settle(result)).rejects.toThrow('x');
    expect(budget.available).toBe(1);
  });
});
