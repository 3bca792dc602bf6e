import type { Classification, ErrorKind } from './core/classification.js';
import type { ExecuteOptions } from './core/execute-options.js';
import { executeOptionKeys, resolveExecuteOptions, resolvePolicy } from './core/resolve-execute-options.js';
import {
  isRetryPolicy,
  type RetryPolicy,
  type RetryPolicyOptions,
  retryPolicy,
} from './core/retry-policy.js';
import { expectIntegerAtLeast, expectOptions, expectOptionsObject, invalid } from './core/validate.js';
import { classify } from './dialects/classify.js';
import type { ClassifyOptions } from './dialects/classify-options.js';
import { execute } from './execute.js';

/**
 * Options of {@link withRetry} and {@link retryable}: execute's options, plus `attempts` or `maxRetries`.
 * dbop counts retries after the first attempt everywhere (`maxRetries`, attempts = maxRetries + 1);
 * `attempts` and the environment variables count total attempts, as db-retry did.
 */
export interface WithRetryOptions extends Omit<ExecuteOptions<never>, 'raises' | 'default'> {
  /**
   * Total attempts (db-retry counts attempts, not retries): `attempts: 3` is `maxRetries: 2`. Default: env
   * DBOP_RETRIES, then DB_RETRY_RETRIES_NUMBER, then DB_UTILS_RETRIES_NUMBER, read on each call, then 3. A
   * built policy or `policy.maxRetries` takes precedence over the environment, `attempts` over both.
   */
  readonly attempts?: number;
  /** Retries after the first attempt, as in execute's policy and DbOpRunner; give this or `attempts`. */
  readonly maxRetries?: number;
}

/** The environment variables giving the number of attempts, in order of precedence. */
export const attemptsEnvVars: readonly string[] = Object.freeze([
  'DBOP_RETRIES',
  'DB_RETRY_RETRIES_NUMBER',
  'DB_UTILS_RETRIES_NUMBER',
]);

/** Total attempts from the environment (first variable of {@link attemptsEnvVars} that is set), else 3. */
export function attemptsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): number {
  for (const key of attemptsEnvVars) {
    const raw = env[key]?.trim();
    if (raw === undefined || raw === '') continue;
    const attempts = Number(raw);
    if (!Number.isInteger(attempts) || attempts < 1) {
      throw new TypeError(
        `Expected env ${key} to be a positive integer (total attempts), got ${JSON.stringify(raw)}`,
      );
    }
    return attempts;
  }
  return 3;
}

const withRetryKeys: ReadonlySet<string> = new Set(
  [...executeOptionKeys, 'attempts', 'maxRetries'].filter((key) => key !== 'raises' && key !== 'default'),
);

type Method<This, A extends unknown[], R> = (this: This, ...args: A) => Promise<R>;

/**
 * Wraps `fn` so every call runs through execute: retried on transient database errors (classify()), with
 * backoff and jitter. `this` and the arguments pass through; the original error is rethrown at the end.
 * @example const markDone = withRetry(async (id: number) => pool.query('UPDATE job SET done = true WHERE id = $1', [id]), { maxRetries: 4, idempotent: true })
 */
export function withRetry<This, A extends unknown[], R>(
  fn: Method<This, A, R>,
  options?: WithRetryOptions,
): Method<This, A, R> {
  if (typeof fn !== 'function') invalid('fn', 'a function', fn);
  const {
    attempts: givenAttempts,
    maxRetries,
    policy,
    ...rest
  } = expectOptions(options, withRetryKeys, 'withRetry()');
  if (givenAttempts !== undefined) expectIntegerAtLeast('attempts', givenAttempts, 1);
  if (maxRetries !== undefined) {
    if (givenAttempts !== undefined) {
      throw new TypeError('Expected one of `attempts` (total) and `maxRetries` (after the first), got both');
    }
    expectIntegerAtLeast('maxRetries', maxRetries, 0);
  }
  const attempts = maxRetries === undefined ? givenAttempts : maxRetries + 1;
  if (policy !== undefined) resolvePolicy(policy);
  const base = { name: fn.name || 'operation', ...rest };
  const fixed = fixedPolicy(attempts, policy);
  // One frozen options object per attempts count, so execute validates it once, not on every call (when the
  // objects it holds, a retryOn array or a target say, are frozen too: see isFixedOptions).
  const byAttempts = new Map<number, ExecuteOptions<never>>();
  const optionsFor = (count: number): ExecuteOptions<never> => {
    let resolved = byAttempts.get(count);
    if (resolved === undefined) {
      const built =
        fixed ?? retryPolicy({ ...(policy as RetryPolicyOptions | undefined), maxRetries: count - 1 });
      resolved = Object.freeze({ ...base, policy: built });
      byAttempts.set(count, resolved);
    }
    return resolved;
  };
  const current = (): ExecuteOptions<never> => optionsFor(fixed === undefined ? attemptsFromEnv() : 0);
  resolveExecuteOptions(current()); // a bad option fails where the function is wrapped, not at its first call
  return function retried(this: This, ...args: A): Promise<R> {
    let options: ExecuteOptions<never>;
    try {
      options = current();
    } catch (error) {
      // A bad DBOP_RETRIES read at call time: reject like any other failure of the call, never throw.
      return Promise.reject(error);
    }
    return execute(() => fn.apply(this, args), options);
  };
}

/** The policy when the environment cannot change it: attempts given, or a policy that fixes maxRetries. */
function fixedPolicy(
  attempts: number | undefined,
  policy: RetryPolicy | RetryPolicyOptions | undefined,
): RetryPolicy | undefined {
  if (attempts !== undefined) {
    const options = isRetryPolicy(policy) ? { ...policyOptions(policy) } : { ...policy };
    return retryPolicy({ ...options, maxRetries: attempts - 1 });
  }
  if (isRetryPolicy(policy)) return policy;
  if (policy?.maxRetries !== undefined) return retryPolicy(policy);
  return undefined;
}

function policyOptions({ delays: _, ...options }: RetryPolicy): RetryPolicyOptions {
  return options;
}

/**
 * {@link withRetry} as a TypeScript 5 (standard) method decorator.
 * @example class Jobs { @retryable({ maxRetries: 4, idempotent: true }) async markDone(id: number) { return pool.query('UPDATE job SET done = true WHERE id = $1', [id]); } }
 */
export function retryable(
  options: WithRetryOptions = {},
): <This, A extends unknown[], R>(
  method: Method<This, A, R>,
  context: ClassMethodDecoratorContext<This, Method<This, A, R>>,
) => Method<This, A, R> {
  expectOptionsObject(options, 'retryable()');
  return (method, context) => withRetry(method, { name: String(context.name), ...options });
}

const postgresKinds: ReadonlySet<ErrorKind> = new Set<ErrorKind>([
  'serialization',
  'deadlock',
  'connection-lost',
  'connect-failed',
  'server-shutdown',
  'server-starting',
  'too-many-connections',
]);

const autocommitWrite: ClassifyOptions = Object.freeze({ dialect: 'postgres', inFlight: 'write' });

/**
 * db-retry's choice: serialization failures, deadlocks and connection errors; nothing else. A connection
 * lost while the function ran is judged as withRetry judges it (E9): the function may have been writing, so
 * the loss is ambiguous and not retried; postgresRetry has no `idempotent` switch, use withRetry for that.
 */
function postgresClassifier(error: unknown): Classification {
  const classification = classify(error, autocommitWrite);
  return postgresKinds.has(classification.kind) || !classification.retryable
    ? classification
    : { ...classification, retryable: false };
}

const postgresOptions: WithRetryOptions = Object.freeze({ classifier: postgresClassifier });

/**
 * db-retry's `postgres_retry`: retries serialization failures, deadlocks and connection errors of
 * PostgreSQL, attempts from the environment (default 3). Use it as a wrapper or as a bare decorator.
 * @example const count = postgresRetry(async () => (await pool.query('SELECT count(*) FROM job')).rows[0])
 * @example class Jobs { @postgresRetry async count() { return (await pool.query('SELECT count(*) FROM job')).rows[0]; } }
 */
export function postgresRetry<This, A extends unknown[], R>(
  fn: Method<This, A, R>,
  context?: ClassMethodDecoratorContext<This, Method<This, A, R>>,
): Method<This, A, R> {
  return withRetry(
    fn,
    context === undefined ? postgresOptions : { ...postgresOptions, name: String(context.name) },
  );
}
