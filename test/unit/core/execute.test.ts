import { describe, expect, it, vi } from 'vitest';
import type { AttemptContext } from '../../../src/core/attempt.js';
import type { Classification } from '../../../src/core/classification.js';
import { execute } from '../../../src/core/execute.js';
import { retryPolicy } from '../../../src/core/retry-policy.js';
import { FakeClock, sequenceRandom } from './fake-clock.js';
import { alwaysFailing, recordingScope, scripted, TransientError } from './helpers.js';

const fast = retryPolicy({ maxRetries: 5, initialDelayMs: 0, maxDelayMs: 0 });

describe('execute: attempts and results (E1, E4, E10)', () => {
  it('returns the value of an op that succeeds at once, with one attempt', async () => {
    const op = scripted(42);
    await expect(execute(op)).resolves.toBe(42);
    expect(op.contexts.map((c) => c.attempt)).toEqual([1]);
  });

  it('makes maxRetries + 1 attempts, then rethrows the last error, the same object (E1, E4)', async () => {
    const clock = new FakeClock();
    const errors = Array.from({ length: 6 }, (_, i) => new TransientError(`attempt ${i + 1}`));
    const op = scripted('never', ...errors);
    const result = execute(op, { clock, random: () => 0.5 });
    await expect(clock.settle(result)).rejects.toBe(errors[5]);
    expect(op.contexts.map((c) => c.attempt)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it.each([0, 1, 3])('makes exactly %i + 1 attempts with maxRetries %i', async (maxRetries) => {
    const op = alwaysFailing(new TransientError('x'));
    await expect(execute(op, { policy: { maxRetries, initialDelayMs: 0, maxDelayMs: 0 } })).rejects.toThrow(
      'x',
    );
    expect(op.calls).toBe(maxRetries + 1);
  });

  it('succeeds on a later attempt and returns that value', async () => {
    const op = scripted('ok', new TransientError('1'), new TransientError('2'));
    await expect(execute(op, { policy: fast })).resolves.toBe('ok');
    expect(op.contexts).toHaveLength(3);
  });

  it('returns `default` instead of throwing on exhaustion when raises is false (E4)', async () => {
    const op = alwaysFailing(new TransientError('x'));
    await expect(
      execute(op, { policy: { maxRetries: 2, initialDelayMs: 0 }, raises: false, default: 'fallback' }),
    ).resolves.toBe('fallback');
    expect(op.calls).toBe(3);
    await expect(execute(op, { policy: fast, raises: false })).resolves.toBeUndefined();
  });

  it('runs sync ops, sync throws, promises and bare thenables (E10)', async () => {
    await expect(execute(() => 7)).resolves.toBe(7);
    let calls = 0;
    const syncFlaky = (): string => {
      calls++;
      if (calls < 3) throw new TransientError('sync');
      return 'sync ok';
    };
    await expect(execute(syncFlaky, { policy: fast })).resolves.toBe('sync ok');
    expect(calls).toBe(3);
    // biome-ignore lint/suspicious/noThenProperty: E10 is about bare thenables
    const thenable: PromiseLike<number> = { then: (resolve) => resolve?.(9) as never };
    await expect(execute(() => thenable)).resolves.toBe(9);
    const rejecting: PromiseLike<number> = {
      // biome-ignore lint/suspicious/noThenProperty: E10 is about bare thenables
      then: (_, reject) => reject?.(new TransientError('thenable')) as never,
    };
    await expect(execute(() => rejecting, { policy: { maxRetries: 0 } })).rejects.toThrow('thenable');
  });

  it('gives every attempt a read-only context with attempt, signal, readOnly, name, startedAt and remainingMs()', async () => {
    const clock = new FakeClock(5000);
    const op = scripted(1, new TransientError('1'));
    await clock.settle(execute(op, { clock, name: 'load', readOnly: true, policy: { jitter: 'none' } }));
    const [first, second] = op.contexts as [AttemptContext, AttemptContext];
    expect([first.attempt, first.readOnly, first.name, first.startedAt]).toEqual([1, true, 'load', 5000]);
    expect([second.attempt, second.startedAt]).toEqual([2, 5100]);
    expect(first.signal.aborted).toBe(false);
    expect(first.remainingMs()).toBe(Number.POSITIVE_INFINITY);
    expect(() => {
      (first as { attempt: number }).attempt = 9;
    }).toThrow(TypeError);
    expect(JSON.parse(JSON.stringify(first))).toEqual({
      attempt: 1,
      readOnly: true,
      name: 'load',
      startedAt: 5000,
    });
  });

  it("names the operation after the op's function when no name is given", async () => {
    const info = vi.fn();
    async function loadUser(): Promise<number> {
      return 1;
    }
    await execute(loadUser, { logger: { info } });
    await execute(async () => 2, { logger: { info } });
    expect(info.mock.calls.map((call) => call[1])).toEqual(['loadUser done', 'operation done']);
  });
});

describe('execute: what is retried (E3)', () => {
  it('does not retry errors retryOn excludes, and never asks the classifier about them', async () => {
    const classifier = vi.fn(() => true);
    const op = alwaysFailing(new TypeError('bug'));
    await expect(execute(op, { retryOn: [TransientError], classifier, policy: fast })).rejects.toThrow(
      TypeError,
    );
    expect(op.calls).toBe(1);
    expect(classifier).not.toHaveBeenCalled();
  });

  it('retries errors matching a class or a predicate in retryOn', async () => {
    const byClass = scripted('a', new TransientError('t'));
    await expect(execute(byClass, { retryOn: [TransientError], policy: fast })).resolves.toBe('a');
    const coded = Object.assign(new Error('deadlock'), { code: '40P01' });
    const byPredicate = scripted('b', coded);
    const retryOn = [(e: unknown) => (e as { code?: string }).code === '40P01'];
    await expect(execute(byPredicate, { retryOn, policy: fast })).resolves.toBe('b');
    expect(byPredicate.contexts).toHaveLength(2);
  });

  it('stops at once, without sleeping, when the classifier says false', async () => {
    const clock = new FakeClock();
    const error = new TransientError('no');
    const op = alwaysFailing(error);
    await expect(clock.settle(execute(op, { clock, classifier: () => false }))).rejects.toBe(error);
    expect(op.calls).toBe(1);
    expect(clock.requested).toEqual([]);
  });

  it('follows a Classification: retryable decides, and onRetry sees it', async () => {
    const transient: Classification = {
      kind: 'deadlock',
      retryable: true,
      scope: 'transaction',
      ambiguous: false,
    };
    const fatal: Classification = { kind: 'constraint', retryable: false, scope: 'none', ambiguous: false };
    const onRetry = vi.fn();
    const op = scripted('x', new TransientError('deadlock'), new TypeError('constraint'));
    const classifier = (e: unknown) => (e instanceof TransientError ? transient : fatal);
    await expect(execute(op, { classifier, onRetry, policy: fast })).rejects.toThrow(TypeError);
    expect(op.contexts).toHaveLength(2);
    expect(onRetry).toHaveBeenCalledOnce();
    expect(onRetry.mock.calls[0]![0]).toMatchObject({ attempt: 1, delayMs: 0, classification: transient });
  });

  it('retries every error by default (core classifier), like dbop-core without a classifier', async () => {
    const op = scripted('ok', new RangeError('whatever'), 'a string');
    await expect(execute(op, { policy: fast })).resolves.toBe('ok');
  });
});

describe('execute: backoff (E2, E12)', () => {
  it('sleeps the policy delays between attempts, on the injected clock', async () => {
    const clock = new FakeClock(0);
    const op = alwaysFailing(new TransientError('x'));
    const policy = { maxRetries: 5, initialDelayMs: 100, maxDelayMs: 500, jitter: 'none' } as const;
    const starts: number[] = [];
    const result = execute(
      (c) => {
        starts.push(c.startedAt);
        return op(c);
      },
      { clock, policy },
    );
    await expect(clock.settle(result)).rejects.toThrow('x');
    expect(clock.requested).toEqual([100, 200, 400, 500, 500]);
    expect(starts).toEqual([0, 100, 300, 700, 1200, 1700]);
  });

  it('is deterministic for a given clock and random (E12)', async () => {
    const run = async (): Promise<number[]> => {
      const clock = new FakeClock(0);
      const result = execute(alwaysFailing(new TransientError('x')), {
        clock,
        random: sequenceRandom(0.1, 0.7, 0.3),
      });
      await clock.settle(result).catch(() => {});
      return clock.requested;
    };
    const first = await run();
    expect(first).toEqual([10, 140, 120, 80, 700]);
    expect(await run()).toEqual(first);
  });
});

describe('execute: scope and preAttempt (E5)', () => {
  it('runs begin, preAttempt, op, then commit; rollback after a failure; preAttempt once per attempt', async () => {
    const scope = recordingScope();
    const log = scope.log;
    const op = scripted('done', new TransientError('first'));
    const preAttempt = vi.fn((c: AttemptContext) => {
      log.push(`pre ${c.attempt}`);
    });
    const value = await execute(
      (c) => {
        log.push(`op ${c.attempt}`);
        return op(c);
      },
      { scope: scope.factory, preAttempt, policy: fast },
    );
    expect(value).toBe('done');
    expect(log).toEqual([
      'begin 1',
      'pre 1',
      'op 1',
      'rollback 1 TransientError',
      'begin 2',
      'pre 2',
      'op 2',
      'commit 2',
    ]);
    expect(preAttempt).toHaveBeenCalledTimes(2);
    expect(scope.open()).toBe(0);
  });

  it('counts a preAttempt failure as the attempt failure: op is skipped, the scope rolls back, the call retries', async () => {
    const scope = recordingScope();
    let pre = 0;
    const preAttempt = async (): Promise<void> => {
      if (++pre === 1) throw new TransientError('SET LOCAL failed');
    };
    const op = scripted('ok');
    await expect(execute(op, { scope: scope.factory, preAttempt, policy: fast })).resolves.toBe('ok');
    expect(op.contexts.map((c) => c.attempt)).toEqual([2]);
    expect(scope.log).toEqual(['begin 1', 'rollback 1 TransientError', 'begin 2', 'commit 2']);
  });

  it('counts a commit failure as the attempt failure, rolls back, then retries', async () => {
    let commits = 0;
    const scope = recordingScope({
      commit: () => {
        if (++commits === 1) throw new TransientError('serialization failure at COMMIT');
      },
    });
    await expect(execute(scripted('ok'), { scope: scope.factory, policy: fast })).resolves.toBe('ok');
    expect(scope.log).toEqual(['begin 1', 'commit 1', 'rollback 1 TransientError', 'begin 2', 'commit 2']);
    expect(scope.open()).toBe(0);
  });

  it('does not roll back a scope whose begin failed, and retries', async () => {
    let begins = 0;
    const scope = recordingScope({
      begin: () => {
        return ++begins === 1 ? Promise.reject(new TransientError('BEGIN failed')) : undefined;
      },
    });
    await expect(execute(scripted('ok'), { scope: scope.factory, policy: fast })).resolves.toBe('ok');
    expect(scope.log).toEqual(['begin 1', 'begin 2', 'commit 2']);
  });

  it('never sleeps while a scope is open: rollback finishes before the backoff timer starts', async () => {
    const clock = new FakeClock(0);
    const pendingAtRollback: number[] = [];
    const scope = recordingScope({
      rollback: async () => {
        await Promise.resolve();
        pendingAtRollback.push(clock.pending);
      },
    });
    const result = execute(scripted('ok', new TransientError('1'), new TransientError('2')), {
      clock,
      scope: scope.factory,
      policy: { jitter: 'none' },
    });
    await expect(clock.settle(result)).resolves.toBe('ok');
    expect(pendingAtRollback).toEqual([0, 0]);
    expect(clock.requested).toEqual([100, 200]);
  });

  it('does not retry after a failed rollback; the original error wins and onGiveUp gets the rollback error', async () => {
    const original = new TransientError('deadlock');
    const rollbackError = new Error('ROLLBACK failed: connection gone');
    const scope = recordingScope({
      rollback: () => {
        throw rollbackError;
      },
    });
    const onGiveUp = vi.fn();
    const error = vi.fn();
    const op = alwaysFailing(original);
    await expect(
      execute(op, { scope: scope.factory, onGiveUp, logger: { error }, policy: fast }),
    ).rejects.toBe(original);
    expect(op.calls).toBe(1);
    expect(onGiveUp.mock.calls[0]![0]).toMatchObject({
      reason: 'rollback-failed',
      error: original,
      rollbackError,
    });
    expect(error.mock.calls[0]![0]).toMatchObject({
      rollbackError: 'Error: ROLLBACK failed: connection gone',
    });
  });
});
