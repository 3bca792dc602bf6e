import type { ScopeFactory } from './attempt.js';
import { CallAllowance } from './call-allowance.js';
import type { Classifier } from './classification.js';
import { type Clock, systemClock } from './clock.js';
import { ConcurrencyLimiter } from './concurrency-limiter.js';
import { coreClassifier } from './core-classifier.js';
import type { OperationTarget } from './diagnostics.js';
import type { ExecuteOptions, Logger, RetryMatcher } from './execute-options.js';
import { RetryBudget } from './retry-budget.js';
import { isRetryPolicy, type RetryPolicy, retryPolicy } from './retry-policy.js';
import {
  expectDelayMs,
  expectOptionalBoolean,
  expectOptionalFunction,
  expectOptionalLogger,
  expectOptionalSignal,
  expectOptionalString,
  expectOptionalTimerMs,
  expectOptionsObject,
  invalid,
  isFixedOptions,
  orDefault,
  rejectUnknownKeys,
} from './validate.js';

/** execute's options after defaults and validation. */
export interface ResolvedExecuteOptions {
  readonly name: string | undefined;
  readonly policy: RetryPolicy;
  readonly retryOn: readonly RetryMatcher[] | undefined;
  readonly classifier: Classifier;
  readonly raises: boolean;
  readonly default: unknown;
  readonly scope: ScopeFactory | undefined;
  readonly preAttempt: ExecuteOptions['preAttempt'];
  readonly readOnly: boolean;
  readonly attemptTimeoutMs: number | undefined;
  readonly deadlineMs: number | undefined;
  readonly cleanupTimeoutMs: number;
  readonly outageMs: number;
  readonly signal: AbortSignal | undefined;
  readonly idempotent: boolean;
  readonly budget: RetryBudget | CallAllowance | undefined;
  readonly limiter: ConcurrencyLimiter | undefined;
  readonly leaf: boolean;
  readonly onRetry: ExecuteOptions['onRetry'];
  readonly onGiveUp: ExecuteOptions['onGiveUp'];
  readonly onSuccess: ExecuteOptions['onSuccess'];
  readonly logger: Logger | undefined;
  readonly clock: Clock;
  readonly random: () => number;
  readonly target: OperationTarget | undefined;
}

/** The option keys of execute(). */
export const executeOptionKeys: ReadonlySet<string> = new Set([
  'name',
  'policy',
  'retryOn',
  'classifier',
  'raises',
  'default',
  'scope',
  'preAttempt',
  'readOnly',
  'attemptTimeoutMs',
  'deadlineMs',
  'cleanupTimeoutMs',
  'outageMs',
  'signal',
  'idempotent',
  'budget',
  'limiter',
  'leaf',
  'onRetry',
  'onGiveUp',
  'onSuccess',
  'logger',
  'clock',
  'random',
  'target',
]);

const defaultPolicy: RetryPolicy = retryPolicy();

/** How long an attempt abandoned at its time limit is awaited before the call gives up on it (E13). */
export const defaultCleanupTimeoutMs = 5000;

// Fixed options (frozen to the bottom, no getters: see isFixedOptions) cannot change after a first call, so
// their resolution is reused.
const cache = new WeakMap<object, ResolvedExecuteOptions>();
let last: { readonly options: object; readonly resolved: ResolvedExecuteOptions } | undefined;
// Marks options made by withCallParts(): resolved already, taken as they are.
const resolvedForCall = Symbol('dbop.resolvedForCall');

/**
 * Internal (the runner's hot path): resolved options to put each call's parts in with {@link withCallParts}.
 * `resolved` must come from resolveExecuteOptions(); execute() takes the result as it is.
 */
export function callOptionsBase(resolved: ResolvedExecuteOptions): ResolvedExecuteOptions {
  // Not frozen: a copy of a frozen object takes a slower path, and this one is copied on every call.
  return { ...resolved, [resolvedForCall]: true } as ResolvedExecuteOptions;
}

/**
 * Internal: a {@link callOptionsBase} with the parts that differ from call to call (the scope factory and
 * classifier over the call's connection, the call's budget) put in, without a second validation.
 */
export function withCallParts(
  base: ResolvedExecuteOptions,
  scope: ScopeFactory,
  classifier: Classifier,
  budget: RetryBudget | CallAllowance | undefined = base.budget,
): ResolvedExecuteOptions {
  return { ...base, scope, classifier, budget };
}

/**
 * The classifiers execute falls back on when the caller names none. `autocommitWrite` serves an op with no
 * scope that is not readOnly: if its connection is lost mid-statement, an autocommit write may or may not
 * have been applied (E9), so that classifier should call such a loss ambiguous.
 */
export interface FallbackClassifiers {
  readonly default: Classifier;
  readonly autocommitWrite: Classifier;
}

/** Validates execute's options once (precise TypeErrors, unknown keys rejected) and fills in defaults. */
export function resolveExecuteOptions(
  options: ExecuteOptions<unknown> | undefined,
  fallback: Classifier | FallbackClassifiers = coreClassifier,
): ResolvedExecuteOptions {
  if (
    typeof options === 'object' &&
    options !== null &&
    (options as { [resolvedForCall]?: true })[resolvedForCall] === true
  )
    return options as unknown as ResolvedExecuteOptions;
  expectOptionsObject(options, 'execute()');
  const o = options ?? {};
  const fallbackClassifier =
    typeof fallback === 'function'
      ? fallback
      : o.scope === undefined && o.readOnly !== true
        ? fallback.autocommitWrite
        : fallback.default;
  // One options object reused by a hot loop hits the one-entry memo: an identity check, no WeakMap lookup.
  const cached = o === last?.options ? last.resolved : cache.get(o);
  if (cached !== undefined && cached.classifier === (o.classifier ?? fallbackClassifier)) return cached;
  rejectUnknownKeys(o, executeOptionKeys, 'execute()');
  expectOptionalString('name', o.name);
  const policy = resolvePolicy(o.policy);
  if (o.retryOn !== undefined) {
    if (!Array.isArray(o.retryOn)) invalid('retryOn', 'an array of error classes or predicates', o.retryOn);
    for (const matcher of o.retryOn) {
      if (typeof matcher !== 'function')
        invalid('retryOn', 'an array of error classes or predicates', matcher);
    }
  }
  for (const key of [
    'classifier',
    'scope',
    'preAttempt',
    'onRetry',
    'onGiveUp',
    'onSuccess',
    'random',
  ] as const) {
    expectOptionalFunction(key, o[key]);
  }
  for (const key of ['raises', 'readOnly', 'idempotent', 'leaf'] as const) expectOptionalBoolean(key, o[key]);
  expectOptionalTimerMs('attemptTimeoutMs', o.attemptTimeoutMs);
  expectOptionalTimerMs('deadlineMs', o.deadlineMs);
  expectOptionalTimerMs('cleanupTimeoutMs', o.cleanupTimeoutMs);
  if (o.outageMs !== undefined) expectDelayMs('outageMs', o.outageMs);
  expectOptionalSignal('signal', o.signal);
  // Retrying without a count needs something else to end it, or one deadlock loop runs forever.
  if (
    policy.maxRetries === Number.POSITIVE_INFINITY &&
    o.deadlineMs === undefined &&
    o.signal === undefined
  ) {
    throw new TypeError(
      'Expected `deadlineMs` or `signal` with `maxRetries: Infinity`: without one, retries would never end',
    );
  }
  if (o.budget !== undefined && !(o.budget instanceof RetryBudget) && !(o.budget instanceof CallAllowance))
    invalid('budget', 'a RetryBudget', o.budget);
  if (o.limiter !== undefined && !(o.limiter instanceof ConcurrencyLimiter))
    invalid('limiter', 'a ConcurrencyLimiter', o.limiter);
  expectOptionalLogger('logger', o.logger);
  if (o.target !== undefined) checkTarget(o.target);
  const clock = orDefault(o.clock, systemClock);
  if (
    typeof clock !== 'object' ||
    clock === null ||
    typeof clock.now !== 'function' ||
    typeof clock.setTimeout !== 'function' ||
    typeof clock.clearTimeout !== 'function'
  ) {
    invalid('clock', 'an object with now(), setTimeout() and clearTimeout()', clock);
  }
  const resolved: ResolvedExecuteOptions = Object.freeze({
    name: o.name,
    policy,
    retryOn: o.retryOn,
    classifier: o.classifier ?? fallbackClassifier,
    raises: o.raises ?? true,
    default: o.default,
    scope: o.scope,
    preAttempt: o.preAttempt,
    readOnly: o.readOnly ?? false,
    attemptTimeoutMs: o.attemptTimeoutMs,
    deadlineMs: o.deadlineMs,
    cleanupTimeoutMs: o.cleanupTimeoutMs ?? defaultCleanupTimeoutMs,
    outageMs: o.outageMs ?? 0,
    signal: o.signal,
    idempotent: o.idempotent ?? false,
    budget: o.budget,
    limiter: o.limiter,
    leaf: o.leaf ?? false,
    onRetry: o.onRetry,
    onGiveUp: o.onGiveUp,
    onSuccess: o.onSuccess,
    logger: o.logger,
    clock,
    random: o.random ?? Math.random,
    target: o.target,
  });
  if (isFixedOptions(o)) {
    cache.set(o, resolved);
    last = { options: o, resolved };
  }
  return resolved;
}

/** A built policy as is, else its options validated (a non-object named as `policy`). */
export function resolvePolicy(policy: unknown): RetryPolicy {
  if (policy === undefined) return defaultPolicy;
  if (isRetryPolicy(policy)) return policy;
  if (typeof policy !== 'object' || policy === null || Array.isArray(policy)) {
    invalid('policy', 'a RetryPolicy or its options object', policy);
  }
  return retryPolicy(policy);
}

const targetKeys: ReadonlySet<string> = new Set(['system', 'namespace', 'address', 'port']);

/** `target` is shown to every diagnostics subscriber: plain strings and a port, nothing else. */
export function checkTarget(target: unknown): OperationTarget {
  if (typeof target !== 'object' || target === null || Array.isArray(target))
    invalid('target', 'an object with `system`', target);
  const t = target as Record<string, unknown>;
  rejectUnknownKeys(t, targetKeys, '`target`');
  if (typeof t.system !== 'string' || t.system === '')
    invalid('target.system', 'a non-empty string', t.system);
  expectOptionalString('target.namespace', t.namespace);
  expectOptionalString('target.address', t.address);
  if (
    t.port !== undefined &&
    !(Number.isInteger(t.port) && (t.port as number) > 0 && (t.port as number) < 65536)
  )
    invalid('target.port', 'a port number (1 to 65535)', t.port);
  return t as unknown as OperationTarget;
}
