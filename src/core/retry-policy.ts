import {
  describeValue,
  expectDelayMs,
  expectFiniteAtLeast,
  expectOptionalFunction,
  expectOptionsObject,
  invalid,
  orDefault,
  rejectUnknownKeys,
} from './validate.js';

/** The named jitter kinds; a number in [0, 1] selects dbop-core's proportional jitter instead. */
export const jitterKinds = ['full', 'equal', 'decorrelated', 'none'] as const;

/** One of {@link jitterKinds}. */
export type JitterKind = (typeof jitterKinds)[number];

/** A named jitter kind, or a fraction f: each delay is base ± up to f * base. */
export type Jitter = JitterKind | number;

/** What retryPolicy() accepts; every field is optional. */
export interface RetryPolicyOptions {
  /**
   * Retries after the first attempt (attempts = maxRetries + 1), the count every dbop API uses (withRetry's
   * `attempts` and the DBOP_RETRIES variables are total attempts). Default 5, at most
   * Number.MAX_SAFE_INTEGER; Infinity is allowed with a deadline.
   */
  readonly maxRetries?: number;
  /** Base delay before the first retry, ms (0 to 2^31 - 1). Default 100. */
  readonly initialDelayMs?: number;
  /** Cap on every delay, ms (0 to 2^31 - 1). Default 1000. */
  readonly maxDelayMs?: number;
  /** Growth of the base delay per retry. Default 2. */
  readonly multiplier?: number;
  /** Default 'full' (AWS's full jitter). */
  readonly jitter?: Jitter;
}

/** A validated, frozen retry policy. */
export interface RetryPolicy {
  readonly maxRetries: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  readonly jitter: Jitter;
  /** The delays before retry 1, 2, ... (maxRetries of them); `random` returns values in [0, 1). */
  delays(random?: () => number): IterableIterator<number>;
}

const known: ReadonlySet<string> = new Set([
  'maxRetries',
  'initialDelayMs',
  'maxDelayMs',
  'multiplier',
  'jitter',
]);
const policies = new WeakSet<RetryPolicy>();

/**
 * Builds a validated, frozen retry policy (rules E1, E2).
 * @example retryPolicy({ maxRetries: 3, initialDelayMs: 50, jitter: 'equal' })
 */
export function retryPolicy(options?: RetryPolicyOptions): RetryPolicy {
  expectOptionsObject(options, 'retryPolicy()');
  const o = options ?? {};
  rejectUnknownKeys(o, known, 'retryPolicy()');
  const maxRetries = orDefault(o.maxRetries, 5);
  if (maxRetries !== Number.POSITIVE_INFINITY && !(Number.isInteger(maxRetries) && maxRetries >= 0)) {
    invalid('maxRetries', 'a non-negative integer or Infinity', maxRetries);
  }
  // A count past 2^53 is Infinity in all but name (attempt + 1 === attempt there), and would slip past the
  // rule that an endless count needs a deadline: refused, pointing at the honest spelling.
  if (maxRetries > Number.MAX_SAFE_INTEGER && maxRetries !== Number.POSITIVE_INFINITY) {
    invalid(
      'maxRetries',
      `at most ${Number.MAX_SAFE_INTEGER} (Number.MAX_SAFE_INTEGER), or Infinity with \`deadlineMs\` or \`signal\``,
      maxRetries,
    );
  }
  const initialDelayMs = expectDelayMs('initialDelayMs', orDefault(o.initialDelayMs, 100));
  const maxDelayMs = expectDelayMs('maxDelayMs', orDefault(o.maxDelayMs, 1000));
  if (maxDelayMs < initialDelayMs) {
    throw new TypeError(
      `Expected \`maxDelayMs\` to be at least \`initialDelayMs\` (${initialDelayMs}), got ${describeValue(maxDelayMs)}`,
    );
  }
  const multiplier = expectFiniteAtLeast('multiplier', orDefault(o.multiplier, 2), 1);
  const jitter = orDefault(o.jitter, 'full');
  if (typeof jitter === 'number') {
    if (!(jitter >= 0 && jitter <= 1))
      invalid('jitter', "a number in [0, 1] or one of 'full', 'equal', 'decorrelated', 'none'", jitter);
  } else if (!(jitterKinds as readonly unknown[]).includes(jitter)) {
    invalid('jitter', "one of 'full', 'equal', 'decorrelated', 'none' or a number in [0, 1]", jitter);
  }
  const policy: RetryPolicy = Object.freeze({
    maxRetries,
    initialDelayMs,
    maxDelayMs,
    multiplier,
    jitter,
    delays(random: () => number = Math.random): IterableIterator<number> {
      expectOptionalFunction('random', random);
      return schedule(policy, random);
    },
  });
  policies.add(policy);
  return policy;
}

/** True when value came from {@link retryPolicy} (so it is already validated). */
export function isRetryPolicy(value: unknown): value is RetryPolicy {
  return typeof value === 'object' && value !== null && policies.has(value as RetryPolicy);
}

function* schedule(policy: RetryPolicy, random: () => number): Generator<number, void, undefined> {
  const { maxRetries, initialDelayMs, maxDelayMs, multiplier, jitter } = policy;
  let base = initialDelayMs;
  let previous = initialDelayMs;
  for (let k = 1; k <= maxRetries; k++) {
    const capped = Math.min(maxDelayMs, base);
    let delay: number;
    if (jitter === 'full') delay = random() * capped;
    // One halving of a sum of at most 2 * capped: two rounded halves of a subnormal cap could add up past it.
    else if (jitter === 'equal') delay = (capped + random() * capped) / 2;
    else if (jitter === 'none') delay = capped;
    else if (jitter === 'decorrelated') {
      delay = Math.min(maxDelayMs, initialDelayMs + random() * (3 * previous - initialDelayMs));
      previous = delay;
    } else delay = Math.min(maxDelayMs, Math.max(0, capped + (2 * random() - 1) * jitter * capped));
    yield delay;
    // Stop growing once capped, so Infinity retries never overflow to Infinity * 0 = NaN.
    if (base < maxDelayMs) base *= multiplier;
  }
}
