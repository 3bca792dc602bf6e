import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import type { Classification } from '../../../src/core/classification.js';
import { ConcurrencyLimiter } from '../../../src/core/concurrency-limiter.js';
import { DeadlineExceededError } from '../../../src/core/errors.js';
import { execute } from '../../../src/core/execute.js';
import { FakeClock } from './fake-clock.js';
import { hang, recordingScope, TransientError } from './helpers.js';

const deadlock: Classification = {
  kind: 'deadlock',
  retryable: true,
  scope: 'transaction',
  ambiguous: false,
};
const fast = { initialDelayMs: 1, maxDelayMs: 1, jitter: 'none' } as const;

describe('execute with a limiter', () => {
  it('a unit nested in one that holds a permit is not admitted again (no self-deadlock at limit 1)', async () => {
    const limiter = new ConcurrencyLimiter({ maxLimit: 1 });
    const inner = (): Promise<string> => execute(() => 'inner', { limiter });
    const value = await execute(async () => `${await inner()} in outer`, { limiter });
    expect(value).toBe('inner in outer');
    expect(limiter.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('gives the permit back after an op threw a proxy that refuses instanceof (a revoked proxy, say)', async () => {
    const limiter = new ConcurrencyLimiter({ maxLimit: 1 });
    const { proxy, revoke } = Proxy.revocable(new Error('revoked'), {});
    revoke();
    const hostile = new Proxy(
      {},
      {
        getPrototypeOf() {
          throw new Error('no prototype for you');
        },
      },
    );
    for (const thrown of [proxy, hostile]) {
      // A scope (here the attempt timeout's) takes the path that sorts dbop's own failure wrappers out.
      await expect(
        execute(() => Promise.reject(thrown), { limiter, attemptTimeoutMs: 1000 }),
      ).rejects.toBeDefined();
      expect(limiter.stats()).toMatchObject({ inFlight: 0, queued: 0 });
    }
    // The one permit is free: the next unit is admitted at once rather than waiting forever.
    expect(await execute(() => 'next', { limiter })).toBe('next');
  });

  it('a leaf op is admitted but runs in an unmarked context; an op that may nest runs marked', async () => {
    const limiter = new ConcurrencyLimiter({ maxLimit: 1 });
    const seen: boolean[] = [];
    const op = async (): Promise<void> => {
      await Promise.resolve();
      seen.push(limiter.held());
      expect(limiter.stats().inFlight).toBe(1);
    };
    await execute(op, { limiter, leaf: true, scope: recordingScope().factory });
    await execute(op, { limiter, leaf: true });
    await execute(op, { limiter, scope: recordingScope().factory });
    expect(seen).toEqual([false, false, true]);
    expect(limiter.stats().inFlight).toBe(0);
    await expect(execute(op, { limiter, leaf: 'yes' as never })).rejects.toThrow('`leaf`');
  });

  it('holds the permit until the scope has rolled back, and gives it back before the retry sleeps', async () => {
    const limiter = new ConcurrencyLimiter({ maxLimit: 1 });
    const seen: string[] = [];
    const scope = recordingScope({
      rollback: () => {
        seen.push(`rollback with ${limiter.stats().inFlight} in flight`);
      },
    });
    let calls = 0;
    await execute(
      () => {
        calls += 1;
        if (calls === 1) throw new TransientError('deadlock');
        return 'ok';
      },
      {
        limiter,
        scope: scope.factory,
        classifier: () => deadlock,
        policy: fast,
        onRetry: () => seen.push(`retry with ${limiter.stats().inFlight} in flight`),
      },
    );
    expect(seen).toEqual(['rollback with 1 in flight', 'retry with 0 in flight']);
    expect(limiter.stats()).toMatchObject({ inFlight: 0, limit: 1 });
  });

  it('the last try of a unit that lost to a deadlock runs alone; earlier tries run beside others', async () => {
    const limiter = new ConcurrencyLimiter({ maxLimit: 4, clock: new FakeClock() });
    // Another unit holds a permit for as long as the call runs.
    const [other] = [limiter.tryAcquire()!];
    const inFlight: number[] = [];
    let calls = 0;
    const call = execute(
      () => {
        calls += 1;
        inFlight.push(limiter.stats().inFlight);
        if (calls < 3) throw new TransientError('deadlock');
        return 'ok';
      },
      {
        limiter,
        scope: recordingScope().factory,
        classifier: () => deadlock,
        policy: { ...fast, maxRetries: 2 },
      },
    );
    // The last try waits for the other unit to finish; nobody is admitted beside it meanwhile.
    await vi.waitFor(() => expect(limiter.stats().queued).toBe(1), { timeout: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(calls).toBe(2);
    expect(limiter.tryAcquire()).toBeUndefined();
    other!.release('success');
    await expect(call).resolves.toBe('ok');
    expect(inFlight).toEqual([2, 2, 1]);
    expect(limiter.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('shrinks the limit on a contention error and not on other errors', async () => {
    const limiter = new ConcurrencyLimiter({ maxLimit: 8, clock: new FakeClock() });
    const failOnce = (classification: Classification) => {
      let calls = 0;
      return execute(
        () => {
          calls += 1;
          if (calls === 1) throw new TransientError(classification.kind);
          return calls;
        },
        { limiter, classifier: () => classification, policy: fast },
      );
    };
    await failOnce({ ...deadlock, kind: 'connection-lost', scope: 'connection' });
    expect(limiter.stats().limit).toBe(8);
    await failOnce(deadlock);
    expect(limiter.stats().limit).toBeLessThan(8);
  });

  it('a unit queued past its deadline ends with DeadlineExceededError and holds nothing', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 1, clock });
    const blocker = execute(() => hang(), { limiter, clock });
    blocker.catch(() => {});
    const queued = execute(() => 'never', { limiter, clock, deadlineMs: 500 });
    const seen = queued.catch((error: unknown) => error);
    await clock.advance(500);
    expect(await seen).toBeInstanceOf(DeadlineExceededError);
    expect(limiter.stats()).toMatchObject({ inFlight: 1, queued: 0 });
    expect(clock.pending).toBe(0);
  });

  it('a unit admitted just as its deadline passes does not begin an attempt', async () => {
    const clock = new FakeClock(0);
    const limiter = new ConcurrencyLimiter({ maxLimit: 1, clock });
    const blocker = limiter.tryAcquire()!;
    // Scheduled first, so at t=100 the permit comes back just before the wait's own timeout fires.
    clock.setTimeout(() => blocker.release('success'), 100);
    let calls = 0;
    const queued = execute(
      () => {
        calls += 1;
        return 'ran';
      },
      { limiter, clock, deadlineMs: 100 },
    );
    const seen = queued.catch((error: unknown) => error);
    await clock.advance(100);
    expect(await seen).toBeInstanceOf(DeadlineExceededError);
    expect(calls).toBe(0);
    expect(limiter.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('an abort while queued rejects with the reason, even with raises: false', async () => {
    const limiter = new ConcurrencyLimiter({ maxLimit: 1 });
    const blocker = limiter.tryAcquire()!;
    const controller = new AbortController();
    const queued = execute(() => 'never', { limiter, signal: controller.signal, raises: false });
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(queued).rejects.toBe(reason);
    blocker.release('success');
    expect(limiter.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('gives the permit back when an attempt times out, once its scope rolled back', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 1, clock });
    const scope = recordingScope();
    const call = execute(() => hang(), {
      limiter,
      clock,
      scope: scope.factory,
      attemptTimeoutMs: 100,
      policy: { maxRetries: 1, ...fast },
    });
    const seen = call.catch((error: unknown) => error);
    await clock.settle(seen);
    expect(scope.open()).toBe(0);
    expect(limiter.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('rejects a limiter that is not a ConcurrencyLimiter', async () => {
    await expect(execute(() => 1, { limiter: {} as never })).rejects.toThrow(
      'Expected `limiter` to be a ConcurrencyLimiter',
    );
  });
});

describe('execute with a limiter (property)', () => {
  it('no permit leaks and the limit is never exceeded, whatever the attempts do', async () => {
    type Step = 'succeed' | 'contention' | 'other' | 'hang' | 'abort';
    const plan = fc.array(
      fc.record({
        steps: fc.array(fc.constantFrom<Step>('succeed', 'contention', 'other', 'hang', 'abort'), {
          minLength: 1,
          maxLength: 4,
        }),
        deadlineMs: fc.option(fc.integer({ min: 1, max: 400 }), { nil: undefined }),
        startAt: fc.integer({ min: 0, max: 50 }),
      }),
      { minLength: 1, maxLength: 8 },
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3 }), plan, async (max, calls) => {
        const clock = new FakeClock(0);
        const limiter = new ConcurrencyLimiter({ maxLimit: max, clock });
        let running = 0;
        let overLimit = false;
        const scope = recordingScope();
        const all = calls.map(async (call) => {
          await new Promise<void>((resolve) => clock.setTimeout(resolve, call.startAt));
          const controller = new AbortController();
          return execute(
            async (context) => {
              running += 1;
              if (running > max) overLimit = true;
              try {
                const step = call.steps[context.attempt - 1] ?? 'succeed';
                // Every wait ends when the attempt's signal aborts, as a session cancels its statement: an
                // attempt dbop cannot stop is the engine's rule (no overlapping attempts), not the limiter's.
                await new Promise<void>((resolve, reject) => {
                  clock.setTimeout(resolve, 5);
                  context.signal.addEventListener('abort', () => reject(context.signal.reason));
                });
                if (step === 'contention') throw new TransientError('deadlock');
                if (step === 'other') throw new TransientError('other');
                const stalled = (): Promise<never> =>
                  new Promise((_, reject) =>
                    context.signal.addEventListener('abort', () => reject(context.signal.reason)),
                  );
                if (step === 'abort') {
                  clock.setTimeout(() => controller.abort(new Error('stop')), 1);
                  return await stalled();
                }
                if (step === 'hang') return await stalled();
                return 'ok';
              } finally {
                running -= 1;
              }
            },
            {
              limiter,
              clock,
              scope: scope.factory,
              signal: controller.signal,
              attemptTimeoutMs: 50,
              ...(call.deadlineMs === undefined ? {} : { deadlineMs: call.deadlineMs }),
              classifier: (error) =>
                error instanceof TransientError && error.message === 'deadlock'
                  ? deadlock
                  : { ...deadlock, kind: 'unknown' as const },
              policy: { maxRetries: 4, initialDelayMs: 1, maxDelayMs: 5, jitter: 'none' },
            },
          ).catch(() => 'failed');
        });
        await clock.settle(Promise.all(all));
        expect(overLimit).toBe(false);
        expect(limiter.stats()).toMatchObject({ inFlight: 0, queued: 0 });
        expect(scope.open()).toBe(0);
      }),
      { numRuns: 150 },
    );
  });
});
