import { ConcurrencyLimiter } from '../core/concurrency-limiter.js';
import type { OperationTarget } from '../core/diagnostics.js';
import type { Logger } from '../core/execute-options.js';
import { checkTarget } from '../core/resolve-execute-options.js';
import { RetryBudget } from '../core/retry-budget.js';
import type { Jitter, RetryPolicyOptions } from '../core/retry-policy.js';
import { type IsolationLevel, isolationLevels } from '../core/session.js';
import {
  describeValue,
  expectDelayMs,
  expectOptionalBoolean,
  expectOptionalLogger,
  expectOptionalOneOf,
  expectOptionalSignal,
  expectOptionalString,
  expectOptionalTimerMs,
  expectOptions,
  expectOptionsObject,
  expectServerTimeoutMs,
  isFixedOptions,
  isPlainOptions,
  rejectUnknownKeys,
} from '../core/validate.js';

/** Options of {@link DbOpRunner}; every field is optional. */
export interface DbOpRunnerOptions {
  /** Retries after the first attempt (attempts = maxRetries + 1), as in retryPolicy(). Default 5. */
  readonly maxRetries?: number;
  /** Default 100. */
  readonly initialDelayMs?: number;
  /** Default 1000. */
  readonly maxDelayMs?: number;
  /** Default 'full'. */
  readonly jitter?: Jitter;
  /**
   * Lock timeout of every step unless the call says otherwise, whole ms (default 10000); 0 means no timeout
   * (the server waits forever), null leaves the server's own setting.
   */
  readonly defaultLockTimeoutMs?: number | null;
  /** Statement timeout of every step unless the call says otherwise (default none); 0 and null as above. */
  readonly defaultStatementTimeoutMs?: number | null;
  /** Default true: rethrow the last error; false: resolve to the call's `default`. */
  readonly defaultRaises?: boolean;
  /** pino-style: '<name> failed' (warn or error) and '<name> done' (info) with the dialect (rule R3). */
  readonly logger?: Logger;
  readonly budget?: RetryBudget;
  /**
   * Admission shared by every unit on one database (createDatabase makes one per Database): each
   * transaction, and each run() that owns its transaction, waits for a permit; a step nested in a unit
   * that holds one does not take another. Default none; false also means none.
   */
  readonly limiter?: ConcurrencyLimiter | false;
  /**
   * How long a call rides out a server outage (connect refused, server starting or shutting down, a
   * connection lost with nothing in flight) past maxRetries, ms from the call's start; 0 counts only.
   * Default 15000: a restart or a short stop costs time, not failed calls (E16).
   */
  readonly outageMs?: number;
  /**
   * What this runner's units run against, published with each operation on 'dbop:operation' (dbop/otel
   * turns it into db.system.name, db.namespace, server.address and server.port). createDatabase sets it.
   */
  readonly target?: OperationTarget;
}

/** Options of one runner.run() call (rule R1). */
export interface RunOptions<D = undefined> {
  readonly name?: string;
  /**
   * Refuse writes in this step. Postgres and SQLite enforce it inside a caller's transaction too (and undo it
   * afterwards, rule S2); MySQL and MariaDB can only start a READ ONLY transaction, so there a nested step
   * is not enforced read-only rather than making the caller's transaction read-only.
   */
  readonly readOnly?: boolean;
  /** Lock wait limit of this step, whole ms up to 2^31 - 1; 0: no timeout; null: leave the server's own. */
  readonly lockTimeoutMs?: number | null;
  /** Statement limit of this step, whole ms up to 2^31 - 1; 0: no timeout; null: leave the server's own. */
  readonly statementTimeoutMs?: number | null;
  /** Limit of one attempt, ms up to 2^31 - 1; the statement is cancelled on the server where the driver allows. */
  readonly attemptTimeoutMs?: number;
  /** Limit of the whole call, sleeps included, ms up to 2^31 - 1. */
  readonly deadlineMs?: number;
  readonly raises?: boolean;
  readonly default?: D;
  /** The step may be applied twice safely: ambiguous failures may be retried (E9). */
  readonly idempotent?: boolean;
  readonly signal?: AbortSignal;
}

/** Options of one runner.transaction() call (rule R2). */
export interface TransactionOptions<D = undefined> extends RunOptions<D> {
  readonly isolationLevel?: IsolationLevel;
}

const runKeys = [
  'name',
  'readOnly',
  'lockTimeoutMs',
  'statementTimeoutMs',
  'attemptTimeoutMs',
  'deadlineMs',
  'raises',
  'default',
  'idempotent',
  'signal',
];
const runnerKeys: ReadonlySet<string> = new Set([
  'maxRetries',
  'initialDelayMs',
  'maxDelayMs',
  'jitter',
  'defaultLockTimeoutMs',
  'defaultStatementTimeoutMs',
  'defaultRaises',
  'logger',
  'budget',
  'limiter',
  'outageMs',
  'target',
]);

/** The option keys of new DbOpRunner() (createDatabase() takes them too). */
export const runnerOptionKeys: ReadonlySet<string> = runnerKeys;
/** The option keys of run() (runner and Database); query() takes the same. */
export const runOptionKeys: ReadonlySet<string> = new Set(runKeys);
const transactionKeySet: ReadonlySet<string> = new Set([...runKeys, 'isolationLevel']);

/** What {@link resolveRunnerOptions} returns: the policy options, and the runner's own settings. */
export interface ResolvedRunnerOptions {
  readonly policy: RetryPolicyOptions;
  readonly lockTimeoutMs: number | undefined;
  readonly statementTimeoutMs: number | undefined;
  readonly raises: boolean;
  readonly logger: Logger | undefined;
  readonly budget: RetryBudget | undefined;
  readonly limiter: ConcurrencyLimiter | undefined;
  readonly outageMs: number;
  readonly target: OperationTarget | undefined;
}

/** How long runner calls ride out a server outage by default, ms (see {@link DbOpRunnerOptions.outageMs}). */
export const defaultOutageMs = 15_000;

/** Validates new DbOpRunner()'s options once (the policy's own fields are left to retryPolicy()). */
export function resolveRunnerOptions(
  options: DbOpRunnerOptions | undefined,
  where: string,
): ResolvedRunnerOptions {
  const o = expectOptions(options, runnerKeys, where);
  const policy: Record<string, unknown> = {};
  for (const key of ['maxRetries', 'initialDelayMs', 'maxDelayMs', 'jitter'] as const) {
    if (o[key] !== undefined) policy[key] = o[key];
  }
  const lock = o.defaultLockTimeoutMs === undefined ? 10_000 : o.defaultLockTimeoutMs;
  expectOptionalBoolean('defaultRaises', o.defaultRaises);
  return {
    policy,
    lockTimeoutMs: lock === null ? undefined : expectServerTimeoutMs('defaultLockTimeoutMs', lock),
    statementTimeoutMs:
      o.defaultStatementTimeoutMs === null
        ? undefined
        : expectServerTimeoutMs('defaultStatementTimeoutMs', o.defaultStatementTimeoutMs),
    raises: o.defaultRaises ?? true,
    logger: checkLogger(o.logger),
    budget: checkBudget(o.budget),
    limiter: checkLimiter(o.limiter),
    outageMs: expectDelayMs('outageMs', o.outageMs === undefined ? defaultOutageMs : o.outageMs),
    target: o.target === undefined ? undefined : Object.freeze({ ...checkTarget(o.target) }),
  };
}

/**
 * Validates the options of one run(), query() or transaction() call, in one pass over its keys: a
 * non-object, an unknown key or a bad value (null included, except the timeouts' documented null) is a
 * TypeError naming the option.
 */
export function checkRunOptions(options: unknown, kind: 'run' | 'transaction', where: string): void {
  const checked = kind === 'run' ? checkedRunOptions : checkedTransactionOptions;
  if (typeof options === 'object' && options !== null && checked.has(options)) return;
  expectOptionsObject(options, where);
  if (options === undefined) return;
  const known = kind === 'run' ? runOptionKeys : transactionKeySet;
  const o = options as Record<string, unknown>;
  checkKeys(o, known, kind, where);
  if (!isPlainOptions(o)) checkNoneInherited(o, known, where);
  // Fixed options (db.query's own, a caller's constant frozen to the bottom: isFixedOptions): checked once.
  if (isFixedOptions(o)) checked.add(o);
}

const checkedRunOptions = new WeakSet<object>();
const checkedTransactionOptions = new WeakSet<object>();

/**
 * Options are read as own properties (copied with a spread), so one a prototype holds (a class's getter,
 * Object.create) would be dropped without a word: refused instead, naming it. Only for options that are not
 * plain objects, whose prototype is Object.prototype's or none.
 */
function checkNoneInherited(o: object, known: ReadonlySet<string>, where: string): void {
  for (const key of known) {
    if (key in o && !Object.hasOwn(o, key)) {
      throw new TypeError(
        `Expected \`${key}\` of ${where} to be an own property of the options; an inherited one would be ignored`,
      );
    }
  }
}

function checkKeys(
  o: Record<string, unknown>,
  known: ReadonlySet<string>,
  kind: 'run' | 'transaction',
  where: string,
): void {
  for (const key of Object.keys(o)) {
    if (!known.has(key)) rejectUnknownKeys(o, known, where);
    const value = o[key];
    switch (key) {
      case 'name':
        expectOptionalString(key, value);
        break;
      case 'readOnly':
      case 'raises':
      case 'idempotent':
        expectOptionalBoolean(key, value);
        break;
      case 'lockTimeoutMs':
      case 'statementTimeoutMs':
        if (value !== null) expectServerTimeoutMs(key, value);
        break;
      case 'attemptTimeoutMs':
      case 'deadlineMs':
        expectOptionalTimerMs(key, value);
        break;
      case 'signal':
        expectOptionalSignal(key, value);
        break;
      case 'isolationLevel':
        if (kind === 'transaction') expectOptionalOneOf(key, value, isolationLevels);
        break;
      default:
        break;
    }
  }
}

/** Checks the runner's logger once, at construction: a pino-style object with at least one level method. */
export function checkLogger(logger: unknown): Logger | undefined {
  return expectOptionalLogger<Logger>('logger', logger);
}

/** Checks the runner's shared ConcurrencyLimiter once, at construction; false means none. */
export function checkLimiter(limiter: unknown): ConcurrencyLimiter | undefined {
  if (limiter === undefined || limiter === false) return undefined;
  if (limiter instanceof ConcurrencyLimiter) return limiter;
  throw new TypeError(
    `Expected \`limiter\` to be a ConcurrencyLimiter or false, got ${describeValue(limiter)}`,
  );
}

/** Checks the runner's shared RetryBudget once, at construction. */
export function checkBudget(budget: unknown): RetryBudget | undefined {
  if (budget === undefined || budget instanceof RetryBudget) return budget;
  throw new TypeError(`Expected \`budget\` to be a RetryBudget, got ${describeValue(budget)}`);
}
