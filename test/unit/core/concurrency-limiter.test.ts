import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { getEventListeners } from 'node:events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AdmissionOutcome,
  AdmissionTimeoutError,
  ConcurrencyLimiter,
  type LimiterMessage,
  type Permit,
} from '../../../src/core/concurrency-limiter.js';
import { FakeClock, flush } from './fake-clock.js';

function take(limiter: ConcurrencyLimiter, n: number): Permit[] {
  return Array.from({ length: n }, () => {
    const permit = limiter.tryAcquire();
    if (permit === undefined) throw new Error('expected a free permit');
    return permit;
  });
}

/** Lets `ms` pass on the clock, then one unit is admitted and commits; returns the limit after it. */
async function commitAfter(limiter: ConcurrencyLimiter, clock: FakeClock, ms: number): Promise<number> {
  await clock.advance(ms);
  take(limiter, 1)[0]!.release('success');
  return limiter.stats().limit;
}

describe('ConcurrencyLimiter', () => {
  it('admits up to the limit at once, then queues', () => {
    const limiter = new ConcurrencyLimiter({ maxLimit: 3 });
    take(limiter, 3);
    expect(limiter.tryAcquire()).toBeUndefined();
    void limiter.acquire();
    expect(limiter.stats()).toMatchObject({ limit: 3, inFlight: 3, queued: 1 });
  });

  it('halves on contention once per window of admissions, and never goes below minLimit', () => {
    const limiter = new ConcurrencyLimiter({ maxLimit: 8, clock: new FakeClock() });
    const firstWindow = take(limiter, 8);
    firstWindow[0]!.release('contention');
    expect(limiter.stats().limit).toBe(4);
    // Admitted before the decrease: that contention was already answered.
    firstWindow[1]!.release('contention');
    firstWindow[2]!.release('contention');
    expect(limiter.stats().limit).toBe(4);
    for (const permit of firstWindow.slice(3)) permit.release('other');
    for (const expected of [2, 1, 1, 1]) {
      take(limiter, 1)[0]!.release('contention');
      expect(limiter.stats().limit).toBe(expected);
    }
    expect(limiter.stats()).toMatchObject({ inFlight: 0, decreases: 3 });
  });

  it('tolerates contention that wasted little attempt time, and cuts deep when it wasted seconds', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 10, clock });
    for (let i = 0; i < 20; i++) {
      const [permit] = take(limiter, 1);
      await clock.advance(50);
      permit!.release('success');
    }
    const [contended] = take(limiter, 1);
    await clock.advance(1);
    contended!.release('contention');
    expect(limiter.stats().limit).toBe(10);
    // Contention that wasted seconds, as a Postgres deadlock does, cuts deep.
    const [deadlocked] = take(limiter, 1);
    await clock.advance(5000);
    deadlocked!.release('contention');
    expect(limiter.stats().limit).toBeLessThanOrEqual(5);
  });

  it('grows by one after probeAfter x limit clean commits at a full limit, and waits twice as long after a failed probe', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({
      maxLimit: 4,
      initialLimit: 1,
      probeAfter: 40,
      tolerance: 0,
      clock,
    });
    const commit = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const [permit] = take(limiter, 1);
        await clock.advance(10);
        permit!.release('success');
      }
    };
    await commit(39);
    expect(limiter.stats().limit).toBe(1);
    await commit(1);
    expect(limiter.stats().limit).toBe(2);
    // The probe meets contention: back to 1, and the next probe needs 2 x 40 x 1 commits.
    take(limiter, 1)[0]!.release('contention');
    expect(limiter.stats().limit).toBe(1);
    await commit(79);
    expect(limiter.stats().limit).toBe(1);
    await commit(1);
    expect(limiter.stats().limit).toBe(2);
  });

  it('raises only once the current level committed enough, for long enough, to be measured', () => {
    // Without time passing, a thousand clean commits say nothing about the rate a higher limit would reach.
    const limiter = new ConcurrencyLimiter({
      maxLimit: 4,
      initialLimit: 1,
      probeAfter: 1,
      clock: new FakeClock(),
    });
    for (let i = 0; i < 1000; i++) take(limiter, 1)[0]!.release('success');
    expect(limiter.stats().limit).toBe(1);
  });

  it('probes no sooner than 20 times what the contention that cut the limit cost (a 1 s Postgres deadlock: 20 s)', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 4, initialLimit: 2, probeAfter: 1, clock });
    const [deadlocked, other] = take(limiter, 2);
    // Both units waited out the deadlock_timeout: the victim's attempt cost 1 s.
    await clock.advance(1000);
    deadlocked!.release('contention');
    other!.release('other');
    expect(limiter.stats().limit).toBe(1);
    // One commit at a full limit would be enough to probe (probeAfter 1), and the 2 s quiet period passes.
    for (let waited = 0; waited < 19_000; waited += 1000)
      expect(await commitAfter(limiter, clock, 1000)).toBe(1);
    expect(await commitAfter(limiter, clock, 1000)).toBeGreaterThan(1);
  });

  it('does not grow on commits admitted below the limit: an idle limiter says nothing about a higher one', () => {
    const limiter = new ConcurrencyLimiter({
      maxLimit: 4,
      initialLimit: 2,
      probeAfter: 1,
      clock: new FakeClock(),
    });
    for (let i = 0; i < 20; i++) take(limiter, 1)[0]!.release('success');
    expect(limiter.stats().limit).toBe(2);
  });

  it('hands permits to waiters in FIFO order', async () => {
    const limiter = new ConcurrencyLimiter({ maxLimit: 1 });
    const [held] = take(limiter, 1);
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) =>
      limiter.acquire().then((permit) => {
        order.push(n);
        permit.release('success');
      }),
    );
    // A newcomer never jumps the queue, even at an instant when a permit is free.
    expect(limiter.tryAcquire()).toBeUndefined();
    held!.release('success');
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3]);
    expect(limiter.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('an aborted waiter rejects with the reason, leaves the queue and holds nothing', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 1, clock });
    const [held] = take(limiter, 1);
    const controller = new AbortController();
    const aborted = limiter.acquire(controller.signal, 1000);
    const next = limiter.acquire();
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await expect(aborted).rejects.toBe(reason);
    expect(limiter.stats()).toMatchObject({ inFlight: 1, queued: 1 });
    expect(clock.pending).toBe(0);
    held!.release('success');
    (await next).release('success');
    expect(limiter.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('a waiter past its timeout rejects with AdmissionTimeoutError and leaves no timer', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 1, clock });
    take(limiter, 1);
    const waiting = limiter.acquire(undefined, 250);
    const seen = waiting.catch((error: unknown) => error);
    await clock.advance(249);
    expect(limiter.stats().queued).toBe(1);
    await clock.advance(1);
    expect(await seen).toBeInstanceOf(AdmissionTimeoutError);
    expect(limiter.stats()).toMatchObject({ inFlight: 1, queued: 0 });
    expect(clock.pending).toBe(0);
  });

  it('an admitted waiter clears its timeout timer and abort listener', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 1, clock });
    const [held] = take(limiter, 1);
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal, 5000);
    held!.release('success');
    (await waiting).release('success');
    expect(clock.pending).toBe(0);
    controller.abort();
    expect(limiter.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('waiters sharing one signal add one abort listener to it, however many queue', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 1, clock });
    const [held] = take(limiter, 1);
    const controller = new AbortController();
    const listeners = (): number => getEventListeners(controller.signal, 'abort').length;
    const waiting = Array.from({ length: 20 }, () => limiter.acquire(controller.signal, 5000));
    expect(listeners()).toBe(1);
    // The first two admitted, one after the other: the rest still wait on the same listener.
    held!.release('success');
    (await waiting[0]!).release('success');
    const second = await waiting[1]!;
    expect(listeners()).toBe(1);
    const reason = new Error('caller gave up');
    controller.abort(reason);
    for (const rest of waiting.slice(2)) await expect(rest).rejects.toBe(reason);
    expect(limiter.stats()).toMatchObject({ inFlight: 1, queued: 0 });
    expect(clock.pending).toBe(0);
    second.release('success');
    // Once nobody waits on it, the signal has no listener of the limiter left.
    const again = new AbortController();
    const [next] = take(limiter, 1);
    const queued = [limiter.acquire(again.signal), limiter.acquire(again.signal)];
    next!.release('success');
    (await queued[0]!).release('success');
    (await queued[1]!).release('success');
    expect(getEventListeners(again.signal, 'abort')).toHaveLength(0);
    expect(limiter.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('releasing twice counts once', () => {
    const limiter = new ConcurrencyLimiter({ maxLimit: 2, clock: new FakeClock() });
    const [a] = take(limiter, 1);
    a!.release('contention');
    a!.release('contention');
    expect(limiter.stats()).toMatchObject({ inFlight: 0, limit: 1 });
  });

  it('publishes its state on dbop:limiter only when subscribed', () => {
    const messages: LimiterMessage[] = [];
    const listener = (message: unknown): void => {
      messages.push(message as LimiterMessage);
    };
    // A fake clock: on the real one the cut depended on how long each unit happened to hold its permit
    // (contention must take 3.6 times the commit's microseconds to count as mostly wasted time).
    const limiter = new ConcurrencyLimiter({ maxLimit: 2, name: 'orders', clock: new FakeClock() });
    take(limiter, 1)[0]!.release('success');
    expect(messages).toEqual([]);
    subscribe('dbop:limiter', listener);
    try {
      take(limiter, 1)[0]!.release('contention');
    } finally {
      unsubscribe('dbop:limiter', listener);
    }
    expect(messages.map((m) => [m.event, m.limit, m.inFlight])).toEqual([
      ['admit', 2, 1],
      ['decrease', 1, 0],
      ['release', 1, 0],
    ]);
    expect(messages[0]!.name).toBe('orders');
  });

  it('refuses bad options with a precise TypeError', () => {
    expect(() => new ConcurrencyLimiter({ maxLimit: 0 })).toThrow(
      'Expected `maxLimit` to be a positive integer',
    );
    expect(() => new ConcurrencyLimiter({ maxLimit: 2, minLimit: 3 })).toThrow('`minLimit`');
    expect(() => new ConcurrencyLimiter({ decreaseFactor: 1 })).toThrow('`decreaseFactor`');
    expect(() => new ConcurrencyLimiter({ initialLimit: 11 })).toThrow('`initialLimit`');
    expect(() => new ConcurrencyLimiter({ maxLimt: 3 } as never)).toThrow('Unknown option `maxLimt`');
  });

  it('never leaks a permit or a timer and never admits past the limit (property)', async () => {
    type Step =
      | { readonly kind: 'acquire'; readonly timeoutMs: number | undefined }
      | { readonly kind: 'abort'; readonly index: number }
      | {
          readonly kind: 'release';
          readonly index: number;
          readonly outcome: 'success' | 'contention' | 'other';
        }
      | { readonly kind: 'advance'; readonly ms: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({
        kind: fc.constant('acquire' as const),
        // Long timeouts too: a timer still pending at the end belongs to a waiter that was admitted.
        timeoutMs: fc.option(fc.integer({ min: 0, max: 10_000 }), { nil: undefined }),
      }),
      fc.record({ kind: fc.constant('abort' as const), index: fc.nat() }),
      fc.record({
        kind: fc.constant('release' as const),
        index: fc.nat(),
        outcome: fc.constantFrom('success' as const, 'contention' as const, 'other' as const),
      }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 30 }) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.array(step, { maxLength: 60 }),
        async (max, steps) => {
          const clock = new FakeClock(0);
          const limiter = new ConcurrencyLimiter({ maxLimit: max, clock, probeAfter: 1 });
          const held: Permit[] = [];
          const controllers: AbortController[] = [];
          const settled: Promise<unknown>[] = [];
          const check = (): void => {
            const { limit, inFlight } = limiter.stats();
            expect(limit).toBeGreaterThanOrEqual(1);
            expect(limit).toBeLessThanOrEqual(max);
            expect(inFlight).toBe(held.length);
            expect(inFlight).toBeLessThanOrEqual(max);
          };
          for (const s of steps) {
            if (s.kind === 'acquire') {
              const controller = new AbortController();
              controllers.push(controller);
              settled.push(
                limiter.acquire(controller.signal, s.timeoutMs).then(
                  (permit) => held.push(permit),
                  () => undefined,
                ),
              );
            } else if (s.kind === 'release' && held.length > 0) {
              const [permit] = held.splice(s.index % held.length, 1);
              permit!.release(s.outcome);
            } else if (s.kind === 'abort' && controllers.length > 0) {
              controllers[s.index % controllers.length]!.abort(new Error('abort'));
            } else if (s.kind === 'advance') {
              await clock.advance(s.ms);
            }
            await flush();
            check();
          }
          // Drain: release everything held until the queue is empty; every waiter is admitted or has left.
          for (let i = 0; i < 1000 && (held.length > 0 || limiter.stats().queued > 0); i++) {
            held.pop()?.release('other');
            await clock.advance(1);
            check();
          }
          await Promise.all(settled);
          expect(limiter.stats()).toMatchObject({ inFlight: 0, queued: 0 });
          expect(clock.pending).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('ConcurrencyLimiter recovery', () => {
  it('doubles the limit after each quiet period and forgets the probe backoff, up to maxLimit', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 10, clock, recoverAfterMs: 2000 });
    // A burst of contention drives the limit to 1.
    while (limiter.stats().limit > 1) take(limiter, 1)[0]!.release('contention');
    await clock.advance(1999);
    take(limiter, 1)[0]!.release('success');
    expect(limiter.stats().limit).toBe(1);
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      await clock.advance(2000);
      take(limiter, 1)[0]!.release('success');
      seen.push(limiter.stats().limit);
    }
    expect(seen).toEqual([2, 4, 8, 10, 10]);
  });

  it('contention in the quiet period restarts it', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 4, initialLimit: 2, clock, recoverAfterMs: 2000 });
    await clock.advance(1500);
    take(limiter, 1)[0]!.release('contention');
    expect(limiter.stats().limit).toBe(1);
    expect(await commitAfter(limiter, clock, 1500)).toBe(1);
    expect(await commitAfter(limiter, clock, 600)).toBe(2);
  });

  it('a recovery cut within its quiet period doubles the next quiet period; one that holds resets it', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 8, clock, recoverAfterMs: 2000 });
    while (limiter.stats().limit > 1) take(limiter, 1)[0]!.release('contention');
    const quietThenCommit = (ms: number): Promise<number> => commitAfter(limiter, clock, ms);
    expect(await quietThenCommit(2000)).toBe(2);
    // The doubled limit meets contention at once: the workload had not changed.
    take(limiter, 1)[0]!.release('contention');
    expect(limiter.stats().limit).toBe(1);
    expect(await quietThenCommit(2000)).toBe(1);
    expect(await quietThenCommit(2000)).toBe(2);
    // This one holds through a quiet period (4 s now): the next doubling comes after it, then every 2 s.
    expect(await quietThenCommit(2000)).toBe(2);
    expect(await quietThenCommit(2000)).toBe(4);
    expect(await quietThenCommit(2000)).toBe(8);
  });

  it('admits a queued unit once the quiet period lets the limit grow', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 4, initialLimit: 1, clock, recoverAfterMs: 2000 });
    const [held] = take(limiter, 1);
    const queued = limiter.acquire();
    await clock.advance(2000);
    // A newcomer's try lets the limit grow: the queued unit goes first, FIFO.
    const newcomer = limiter.tryAcquire();
    const permit = await queued;
    expect(newcomer).toBeUndefined();
    expect(limiter.stats()).toMatchObject({ limit: 2, inFlight: 2, queued: 0 });
    permit.release('success');
    held!.release('success');
  });

  it('refuses a bad recoverAfterMs', () => {
    expect(() => new ConcurrencyLimiter({ recoverAfterMs: 0 })).toThrow('`recoverAfterMs`');
  });
});

/**
 * Keeps the limiter full, as a queue of callers would: every `everyMs` the oldest unit commits and the freed
 * permits are taken again at once. Runs for `ms`; returns the permits still held.
 */
async function saturate(
  limiter: ConcurrencyLimiter,
  clock: FakeClock,
  held: Permit[],
  ms: number,
  everyMs: number,
): Promise<Permit[]> {
  const fill = (): void => {
    for (let permit = limiter.tryAcquire(); permit !== undefined; permit = limiter.tryAcquire())
      held.push(permit);
  };
  fill();
  for (let elapsed = 0; elapsed < ms; elapsed += everyMs) {
    await clock.advance(everyMs);
    held.shift()?.release('success');
    fill();
  }
  return held;
}

describe('ConcurrencyLimiter raises on trial', () => {
  const options = { maxLimit: 4, initialLimit: 2, probeAfter: 1, recoverAfterMs: 1e9 } as const;

  it('a raise that commits no faster than the level it left goes back (InnoDB lock waits: no error, only slower commits)', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ ...options, clock });
    // 1 commit per 5 ms at limit 2, measured for 200 ms: the probe to 3 starts.
    let held = await saturate(limiter, clock, [], 200, 5);
    expect(limiter.stats().limit).toBe(3);
    // Still 1 commit per 5 ms at 3: the third unit only waited for the others' locks.
    held = await saturate(limiter, clock, held, 300, 5);
    expect(limiter.stats()).toMatchObject({ limit: 2, decreases: 1 });
    for (const permit of held) permit.release('other');
  });

  it('a raise that commits faster stays', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ ...options, maxLimit: 3, clock });
    let held = await saturate(limiter, clock, [], 200, 6);
    expect(limiter.stats().limit).toBe(3);
    held = await saturate(limiter, clock, held, 600, 4);
    expect(limiter.stats()).toMatchObject({ limit: 3, decreases: 0 });
    for (const permit of held) permit.release('other');
  });

  it('a doubling after a quiet period is judged the same way', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({
      maxLimit: 8,
      initialLimit: 2,
      probeAfter: 1000,
      recoverAfterMs: 1000,
      clock,
    });
    let held = await saturate(limiter, clock, [], 1000, 5);
    expect(limiter.stats().limit).toBe(4);
    held = await saturate(limiter, clock, held, 300, 5);
    expect(limiter.stats()).toMatchObject({ limit: 2, decreases: 1 });
    for (const permit of held) permit.release('other');
  });
});

describe('ConcurrencyLimiter lock waits', () => {
  it('suggests none until contention, then twice what the admitted units hold, in powers of two from 20 ms, for 10 s', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 4, clock });
    expect(limiter.lockWaitMs()).toBeUndefined();
    take(limiter, 1)[0]!.release('contention');
    // No commit measured yet: the floor.
    expect(limiter.lockWaitMs()).toBe(20);
    for (let i = 0; i < 50; i++) {
      const [permit] = take(limiter, 1);
      await clock.advance(12);
      permit!.release('success');
    }
    // Commits take 12 ms at limit 2 or more: 2 x limit x 12 ms, rounded up to 20 ms x 2^k.
    const { limit } = limiter.stats();
    const wanted = 2 * limit * 12;
    const wait = limiter.lockWaitMs()!;
    expect(wait).toBeGreaterThanOrEqual(wanted);
    expect(wait / 2).toBeLessThan(wanted);
    await clock.advance(10_001);
    expect(limiter.lockWaitMs()).toBeUndefined();
  });

  it('at limit 2, cheap failures on a third of the attempts do not cut; at limit 10, on a fifth they do', async () => {
    const run = async (limit: number, failEvery: number): Promise<number> => {
      const clock = new FakeClock();
      const limiter = new ConcurrencyLimiter({ maxLimit: limit, clock, recoverAfterMs: 1e9 });
      for (let i = 1; i <= 60; i++) {
        const [permit] = take(limiter, 1);
        await clock.advance(5);
        permit!.release(i % failEvery === 0 ? 'contention' : 'success');
      }
      return limiter.stats().limit;
    };
    expect(await run(2, 3)).toBe(2);
    expect(await run(10, 5)).toBeLessThan(10);
  });
});

describe('ConcurrencyLimiter trials across idle time', () => {
  it('a raise that commits faster stays, even when the demand paused between the raise and its trial', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({
      maxLimit: 3,
      initialLimit: 2,
      probeAfter: 1,
      recoverAfterMs: 1e9,
      clock,
    });
    // 1 commit per 5 ms at limit 2: the probe to 3 starts.
    let held = await saturate(limiter, clock, [], 200, 5);
    expect(limiter.stats().limit).toBe(3);
    // The callers go quiet for 5 s (nothing in flight), then come back: 1 commit per 3 ms at limit 3.
    for (const permit of held.splice(0)) permit.release('success');
    await clock.advance(5000);
    held = await saturate(limiter, clock, held, 600, 3);
    // The new level commits 60% faster whenever there is demand: the idle 5 s say nothing against it.
    expect(limiter.stats()).toMatchObject({ limit: 3, decreases: 0 });
    for (const permit of held) permit.release('other');
  });
});

describe('ConcurrencyLimiter and lock waits dbop cut short', () => {
  async function afterLongFailure(outcome: 'contention' | 'waited'): Promise<number> {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 10, clock });
    for (let i = 0; i < 5; i++) {
      const [permit] = take(limiter, 1);
      await clock.advance(5);
      permit!.release('success');
    }
    const [permit] = take(limiter, 1);
    await clock.advance(400);
    permit!.release(outcome);
    return limiter.stats().limit;
  }

  it('a contention error that wasted most of the recent attempt time cuts at once; a short lock wait that ran out does not', async () => {
    expect(await afterLongFailure('contention')).toBeLessThan(10);
    expect(await afterLongFailure('waited')).toBe(10);
  });

  it('a cut because failures passed 1/limit goes back when the lower limit commits less', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 4, probeAfter: 1000, recoverAfterMs: 1e9, clock });
    // Limit 4 commits one unit per 2 ms for 300 ms: measured.
    let held = await saturate(limiter, clock, [], 300, 2);
    // Three cheap failures in a row: a third of recent attempts failed, past 1/4.
    for (let i = 0; i < 3; i++) {
      held.shift()!.release('contention');
      held = await saturate(limiter, clock, held, 0, 1);
    }
    expect(limiter.stats().limit).toBe(3);
    // At 3 the rate falls to one per 4 ms: over the cut's longer window, it goes back to 4.
    held = await saturate(limiter, clock, held, 2000, 4);
    expect(limiter.stats().limit).toBe(4);
    for (const permit of held) permit.release('other');
  });
});

describe('ConcurrencyLimiter.acquireAlone', () => {
  it('goes ahead of every waiter, waits until no unit is in flight, and admits none beside it', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 3, clock });
    const running = take(limiter, 3);
    const order: string[] = [];
    const note =
      (name: string) =>
      (p: Permit): Permit => {
        order.push(name);
        return p;
      };
    const queued = limiter.acquire().then(note('queued'));
    const alone = limiter.acquireAlone().then(note('alone'));
    running[0]!.release('success');
    running[1]!.release('success');
    await flush();
    // One unit still in flight: the lone waiter holds the queue, the one behind it waits too.
    expect(order).toEqual([]);
    expect(limiter.tryAcquire()).toBeUndefined();
    running[2]!.release('success');
    await flush();
    expect(order).toEqual(['alone']);
    expect(limiter.stats()).toMatchObject({ inFlight: 1, queued: 1 });
    expect(limiter.tryAcquire()).toBeUndefined();
    (await alone).release('success');
    await flush();
    expect(order).toEqual(['alone', 'queued']);
    (await queued).release('success');
    expect(limiter.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('is admitted as any other once the units in flight outlast its wait (one long transaction does not stall the rest)', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 3, clock });
    const [long] = take(limiter, 1);
    let admitted = false;
    const alone = limiter.acquireAlone().then((p) => {
      admitted = true;
      return p;
    });
    await clock.advance(99);
    expect(admitted).toBe(false);
    await clock.advance(1);
    await flush();
    expect(admitted).toBe(true);
    expect(limiter.stats()).toMatchObject({ inFlight: 2, queued: 0 });
    // Admitted as any other: others may join it.
    const beside = limiter.tryAcquire();
    expect(beside).toBeDefined();
    beside!.release('success');
    (await alone).release('success');
    long!.release('success');
    expect(limiter.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('once a lone waiter gave up on a long unit in flight, the next does not hold the queue for it again', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 3, clock });
    // A report that runs for minutes on the same Database.
    const [long] = take(limiter, 1);
    const first = limiter.acquireAlone();
    await clock.advance(100);
    (await first).release('success');
    // The long unit is still in flight: a second lone waiter, and a unit behind it, would each wait 100 ms
    // for it again (with one lone waiter every 100 ms, nothing else ran: 964 short commits in 10 s, not 17,991).
    let admitted = 0;
    const second = limiter.acquireAlone().then((p) => {
      admitted += 1;
      return p;
    });
    const behind = limiter.acquire().then((p) => {
      admitted += 1;
      return p;
    });
    await flush();
    expect(admitted).toBe(2);
    (await second).release('success');
    (await behind).release('success');
    // Once nothing is in flight, a lone waiter runs alone again.
    long!.release('success');
    const third = limiter.acquireAlone();
    await flush();
    expect(limiter.tryAcquire()).toBeUndefined();
    (await third).release('success');
    expect(clock.pending).toBe(0);
  });

  it('an aborted lone waiter leaves, clears its timers and lets the others in', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 2, clock });
    const [running] = take(limiter, 1);
    const controller = new AbortController();
    const alone = limiter.acquireAlone(controller.signal);
    expect(limiter.tryAcquire()).toBeUndefined();
    controller.abort(new Error('stop'));
    await expect(alone).rejects.toThrow('stop');
    expect(clock.pending).toBe(0);
    const next = limiter.tryAcquire();
    expect(next).toBeDefined();
    next!.release('success');
    running!.release('success');
  });
});

/**
 * A saturated workload for `ms` of clock time: every step the oldest unit ends, `outcome(i)` for the i-th,
 * after `stepMs(limit)` ms, and the freed permits are taken again at once. Returns the units that committed.
 */
async function drive(
  limiter: ConcurrencyLimiter,
  clock: FakeClock,
  ms: number,
  stepMs: (limit: number) => number,
  outcome: (i: number) => AdmissionOutcome,
): Promise<number> {
  const held: Permit[] = [];
  const fill = (): void => {
    for (let permit = limiter.tryAcquire(); permit !== undefined; permit = limiter.tryAcquire())
      held.push(permit);
  };
  fill();
  let commits = 0;
  for (let elapsed = 0, i = 0; elapsed < ms; i++) {
    const step = stepMs(limiter.stats().limit);
    await clock.advance(step);
    elapsed += step;
    const ended = outcome(i);
    if (ended === 'success') commits += 1;
    held.shift()?.release(ended);
    fill();
  }
  for (const permit of held) permit.release('other');
  return commits;
}

describe('ConcurrencyLimiter soft cuts on trial', () => {
  it('tolerance: 0 cuts on every contention error (once per window), even before the level is measured', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 8, tolerance: 0, clock });
    // Ten quick commits: too few for the level's rate to be known, and the waste share stays low.
    await drive(
      limiter,
      clock,
      10,
      () => 1,
      () => 'success',
    );
    const [permit] = take(limiter, 1);
    await clock.advance(10);
    permit!.release('contention');
    // Before, the cut waited until the level was measured (1 s busy here) and then went on trial.
    expect(limiter.stats()).toMatchObject({ limit: 7, decreases: 1 });
    // A lock wait dbop cut short is still no reason to cut at once.
    const [waited] = take(limiter, 1);
    await clock.advance(10);
    waited!.release('waited');
    expect(limiter.stats().limit).toBe(7);
  });

  // Every unit holds its permit 8 ms whatever the limit, and a third of the attempts fail cheaply: a limit of
  // 8 commits twice what 4 does, although the failure share is past 1/8.
  const thirdFails = (i: number): AdmissionOutcome => (i % 3 === 2 ? 'contention' : 'success');

  it('a soft cut is judged before the next: the lower level cannot be cut again, or probed, while on trial', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 8, clock });
    const commits = await drive(limiter, clock, 20_000, (limit) => 8 / limit, thirdFails);
    // A fixed limit of 8 commits 2 units in 3 every ms: 13,333. Before, a second soft cut (or a probe) replaced
    // the first one's trial, each level was judged only against the one just above it, and the limit
    // settled around 2-4 (4,518 commits).
    expect(commits).toBeGreaterThan(0.8 * 13_333);
  });

  it('a soft cut to a level that then commits nothing is judged too: no trial stays open', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 8, recoverAfterMs: 1e9, clock });
    await drive(
      limiter,
      clock,
      6000,
      (limit) => 8 / limit,
      (i) => (limiter.stats().decreases > 0 ? 'waited' : thirdFails(i)),
    );
    // Every attempt after the first cut ran out of its short lock wait. The cut's trial ends once the lower
    // level was busy 4 s, and it commits less than 8 did (nothing): back to 8, the only way up here (no
    // commits to probe on, no recovery). Before, the trial stayed open for want of 128 commits, and a
    // second soft cut, 1 s into it, took its place unjudged.
    expect(limiter.stats().increases).toBe(1);
  });
});

describe('ConcurrencyLimiter recovery after dear contention', () => {
  it('a doubling that held for a quiet period doubles again after that period, not after the dear wait again', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 8, clock });
    // Three Postgres deadlocks, each held for the 1 s deadlock_timeout: down to 1, and the first raise waits 20 s.
    for (let i = 0; i < 3; i++) {
      const [permit] = take(limiter, 1);
      await clock.advance(1000);
      permit!.release('contention');
    }
    expect(limiter.stats().limit).toBe(1);
    // Then the workload changes: no contention at all, more callers than the limit, and each unit holds its
    // permit 8 ms whatever the limit (twice the limit commits twice as much).
    const uncontended = (ms: number) =>
      drive(
        limiter,
        clock,
        ms,
        (limit) => 8 / limit,
        () => 'success',
      );
    await uncontended(19_000);
    expect(limiter.stats().limit).toBe(1);
    await uncontended(4_000);
    // The first doubling came after 20 s and held for a quiet period (2 s): the next doubles again, as
    // recoverAfterMs says, instead of waiting out the deadlock's 20 s a second time (back at 8 after 40 s).
    expect(limiter.stats().limit).toBe(8);
  });
});

describe('ConcurrencyLimiter above what runs', () => {
  it('cuts at once when the limit holds nobody back: three units that conflict often bring it down near them', async () => {
    const clock = new FakeClock();
    const limiter = new ConcurrencyLimiter({ maxLimit: 10, recoverAfterMs: 1e9, probeAfter: 1000, clock });
    for (let i = 1; i <= 60; i++) {
      const permits = take(limiter, 3);
      await clock.advance(5);
      for (const [k, permit] of permits.entries())
        permit.release(k === 0 && i % 2 === 0 ? 'contention' : 'success');
    }
    // No trial could judge these cuts (nobody waited at any level): they come at once, until the failures
    // (one in six) are under one over the limit. On trial, one cut in the 300 ms: 9.
    expect(limiter.stats().limit).toBeLessThanOrEqual(5);
  });
});
