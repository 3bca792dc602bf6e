import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isRetryPolicy,
  type Jitter,
  type RetryPolicy,
  type RetryPolicyOptions,
  retryPolicy,
} from '../../../src/core/retry-policy.js';
import { sequenceRandom } from './fake-clock.js';

const optionsOf = ({ delays: _, ...options }: RetryPolicy): RetryPolicyOptions => options;
const take = (policy: ReturnType<typeof retryPolicy>, random?: () => number): number[] => [
  ...policy.delays(random),
];

describe('retryPolicy', () => {
  it('has the defaults of E1', () => {
    const policy = retryPolicy();
    expect(policy).toMatchObject({
      maxRetries: 5,
      initialDelayMs: 100,
      maxDelayMs: 1000,
      multiplier: 2,
      jitter: 'full',
    });
    expect(Object.isFrozen(policy)).toBe(true);
    expect(isRetryPolicy(policy)).toBe(true);
    expect(isRetryPolicy({ ...policy })).toBe(false);
  });

  it("yields E2's example sequence with jitter 'none'", () => {
    const policy = retryPolicy({ maxRetries: 5, initialDelayMs: 100, maxDelayMs: 500, jitter: 'none' });
    expect(take(policy)).toEqual([100, 200, 400, 500, 500]);
  });

  it('yields exactly maxRetries delays, none for maxRetries 0', () => {
    expect(take(retryPolicy({ maxRetries: 3 }))).toHaveLength(3);
    expect(take(retryPolicy({ maxRetries: 0 }))).toEqual([]);
  });

  it("computes 'full', 'equal', 'decorrelated' and proportional jitter from the random source", () => {
    const base = { maxRetries: 3, initialDelayMs: 100, maxDelayMs: 1000 } as const;
    expect(take(retryPolicy({ ...base, jitter: 'full' }), sequenceRandom(0.5))).toEqual([50, 100, 200]);
    expect(take(retryPolicy({ ...base, jitter: 'equal' }), sequenceRandom(0))).toEqual([50, 100, 200]);
    expect(take(retryPolicy({ ...base, jitter: 'equal' }), sequenceRandom(0.5))).toEqual([75, 150, 300]);
    // decorrelated: min(cap, U(initial, 3 * previous)), previous starting at initial.
    expect(take(retryPolicy({ ...base, jitter: 'decorrelated' }), sequenceRandom(0.5))).toEqual([
      200, 350, 575,
    ]);
    expect(
      take(retryPolicy({ ...base, maxRetries: 6, jitter: 'decorrelated' }), sequenceRandom(0.99)),
    ).toEqual([298, 886.06, 1000, 1000, 1000, 1000]);
    // f = 0.1: base + U(-10%, +10%).
    expect(take(retryPolicy({ ...base, jitter: 0.1 }), sequenceRandom(0, 0.5, 1))).toEqual([90, 200, 440]);
  });

  // Halving a subnormal cap rounds: 3 * 2^-1074 / 2 rounds up to 2 * 2^-1074, and the two rounded halves of
  // 'equal' jitter summed to 4 * 2^-1074, above the cap. The property test below fails so with fast-check
  // seed 224 (about 1 run in 80 did: 37 of 3000 seeds).
  it("keeps 'equal' jitter within a cap so small that halving it rounds up", () => {
    const tiny = 3 * Number.MIN_VALUE;
    const policy = retryPolicy({ maxRetries: 2, initialDelayMs: tiny, maxDelayMs: tiny, jitter: 'equal' });
    for (const delay of take(policy, sequenceRandom(0.9, 0))) {
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(tiny);
    }
  });

  it('keeps the delay at the cap once reached, even with Infinity retries', () => {
    const policy = retryPolicy({
      maxRetries: Number.POSITIVE_INFINITY,
      initialDelayMs: 1,
      maxDelayMs: 50,
      jitter: 'none',
    });
    const delays = policy.delays();
    const first = Array.from({ length: 2000 }, () => delays.next().value);
    expect(first.slice(0, 7)).toEqual([1, 2, 4, 8, 16, 32, 50]);
    expect(first.at(-1)).toBe(50);
  });

  it.each([
    [{ maxRetries: -1 }, 'Expected `maxRetries` to be a non-negative integer or Infinity, got -1'],
    [{ maxRetries: 1.5 }, 'Expected `maxRetries` to be a non-negative integer or Infinity, got 1.5'],
    [{ maxRetries: Number.NaN }, 'Expected `maxRetries` to be a non-negative integer or Infinity, got NaN'],
    [{ maxRetries: '3' }, 'Expected `maxRetries` to be a non-negative integer or Infinity, got "3"'],
    // Counts past 2^53 are not counted exactly (attempt + 1 === attempt) and never end without a deadline:
    // they are refused like Infinity without one, not accepted as a finite count.
    [
      { maxRetries: 1e20 },
      'Expected `maxRetries` to be at most 9007199254740991 (Number.MAX_SAFE_INTEGER), or Infinity with `deadlineMs` or `signal`, got 100000000000000000000',
    ],
    [
      { maxRetries: Number.MAX_VALUE },
      `Expected \`maxRetries\` to be at most 9007199254740991 (Number.MAX_SAFE_INTEGER), or Infinity with \`deadlineMs\` or \`signal\`, got ${Number.MAX_VALUE}`,
    ],
    [
      { initialDelayMs: -5 },
      "Expected `initialDelayMs` to be a number of milliseconds from 0 to 2147483647 (Node's timer limit), got -5",
    ],
    [
      { initialDelayMs: Number.NaN },
      "Expected `initialDelayMs` to be a number of milliseconds from 0 to 2147483647 (Node's timer limit), got NaN",
    ],
    [
      { maxDelayMs: Number.POSITIVE_INFINITY },
      "Expected `maxDelayMs` to be a number of milliseconds from 0 to 2147483647 (Node's timer limit), got Infinity",
    ],
    [
      { initialDelayMs: 200, maxDelayMs: 100 },
      'Expected `maxDelayMs` to be at least `initialDelayMs` (200), got 100',
    ],
    [{ multiplier: 0.5 }, 'Expected `multiplier` to be a finite number >= 1, got 0.5'],
    [
      { jitter: 'fuLL' },
      "Expected `jitter` to be one of 'full', 'equal', 'decorrelated', 'none' or a number in [0, 1], got \"fuLL\"",
    ],
    [
      { jitter: 1.5 },
      "Expected `jitter` to be a number in [0, 1] or one of 'full', 'equal', 'decorrelated', 'none', got 1.5",
    ],
    [
      { jitter: Number.NaN },
      "Expected `jitter` to be a number in [0, 1] or one of 'full', 'equal', 'decorrelated', 'none', got NaN",
    ],
    [{ maxRetrys: 3 }, 'Unknown option `maxRetrys` of retryPolicy()'],
  ])('rejects %o with a precise TypeError', (options, message) => {
    expect(() => retryPolicy(options as never)).toThrow(TypeError);
    expect(() => retryPolicy(options as never)).toThrow(message);
  });

  it('rejects options that are not an object, and a random that is not a function', () => {
    expect(() => retryPolicy(3 as never)).toThrow(
      'Expected the options of retryPolicy() to be an object, got 3',
    );
    expect(() => retryPolicy().delays('x' as never)).toThrow('Expected `random` to be a function, got "x"');
  });
});

describe('retryPolicy schedules (properties)', () => {
  const jitters: fc.Arbitrary<Jitter> = fc.oneof(
    fc.constantFrom('full', 'equal', 'decorrelated', 'none'),
    fc.double({ min: 0, max: 1, noNaN: true }),
  );
  const policies = fc
    .record({
      maxRetries: fc.integer({ min: 0, max: 30 }),
      initialDelayMs: fc.double({ min: 0, max: 5000, noNaN: true }),
      extra: fc.double({ min: 0, max: 60_000, noNaN: true }),
      multiplier: fc.double({ min: 1, max: 10, noNaN: true }),
      jitter: jitters,
    })
    .map(({ extra, ...o }) => retryPolicy({ ...o, maxDelayMs: o.initialDelayMs + extra }));
  const randoms = fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), {
    minLength: 1,
    maxLength: 40,
  });

  it('never yields a negative delay, nor one above maxDelayMs', () => {
    fc.assert(
      fc.property(policies, randoms, (policy, values) => {
        const delays = take(policy, sequenceRandom(...values));
        expect(delays).toHaveLength(policy.maxRetries);
        for (const delay of delays) {
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(policy.maxDelayMs);
        }
      }),
    );
  });

  it('keeps full jitter within [0, base] where base = min(cap, initial * multiplier^(k-1))', () => {
    fc.assert(
      fc.property(policies, randoms, (policy, values) => {
        const full = retryPolicy({ ...optionsOf(policy), jitter: 'full' });
        take(full, sequenceRandom(...values)).forEach((delay, i) => {
          const base = Math.min(full.maxDelayMs, full.initialDelayMs * full.multiplier ** i);
          expect(delay).toBeGreaterThanOrEqual(0);
          // Tolerance: the schedule multiplies step by step, the test uses a power.
          expect(delay).toBeLessThanOrEqual(base * (1 + 1e-9) + 1e-9);
        });
      }),
    );
  });

  it('is deterministic for a given random source', () => {
    fc.assert(
      fc.property(policies, randoms, (policy, values) => {
        expect(take(policy, sequenceRandom(...values))).toEqual(take(policy, sequenceRandom(...values)));
      }),
    );
  });

  it("equals the base sequence with jitter 'none' and random ignored", () => {
    fc.assert(
      fc.property(policies, randoms, (policy, values) => {
        const none = retryPolicy({ ...optionsOf(policy), jitter: 'none' });
        const expected = Array.from({ length: none.maxRetries }, (_, i) =>
          Math.min(none.maxDelayMs, none.initialDelayMs * none.multiplier ** i),
        );
        const actual = take(none, sequenceRandom(...values));
        for (const [i, delay] of actual.entries()) expect(delay).toBeCloseTo(expected[i]!, 6);
      }),
    );
  });
});
