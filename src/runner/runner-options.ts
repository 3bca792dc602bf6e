import type { Logger } from '../core/execute-options.js';
import { RetryBudget } from '../core/retry-budget.js';
import type { Jitter } from '../core/retry-policy.js';
import type { IsolationLevel } from '../core/session.js';
import { describeValue } from '../core/validate.js';

/** Options of {@link DbOpRunner}; every field is optional. */
export interface DbOpRunnerOptions {
  /** Default 5. */
  readonly maxRetries?: number;
  /** Default 100. */
  readonly initialDelayMs?: number;
  /** Default 1000. */
  readonly maxDelayMs?: number;
  /** Default 'full'. */
  readonly jitter?: Jitter;
  /** Lock timeout of every step unless the call says otherwise; null leaves the server's own (default 10000). */
  readonly defaultLockTimeoutMs?: number | null;
  /** Statement timeout of every step unless the call says otherwise (default none). */
  readonly defaultStatementTimeoutMs?: number | null;
  /** Default true: rethrow the last error; false: resolve to the call's `default`. */
  readonly defaultRaises?: boolean;
  /** pino-style: '<name> failed' (warn or error) and '<name> done' (info) with the dialect (rule R3). */
  readonly logger?: Logger;
  readonly budget?: RetryBudget;
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
  /** null: leave the lock timeout alone for this step. */
  readonly lockTimeoutMs?: number | null;
  readonly statementTimeoutMs?: number | null;
  /** Limit of one attempt; the statement is cancelled on the server where the driver allows. */
  readonly attemptTimeoutMs?: number;
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
]);
const runKeySet: ReadonlySet<string> = new Set(runKeys);
const transactionKeySet: ReadonlySet<string> = new Set([...runKeys, 'isolationLevel']);

/** Rejects unknown keys, so a typo ('lockTimeout') is an error rather than a silently ignored option. */
export function checkKeys(options: object, kind: 'runner' | 'run' | 'transaction'): void {
  const known = kind === 'runner' ? runnerKeys : kind === 'run' ? runKeySet : transactionKeySet;
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new TypeError(`Unknown ${kind} option \`${key}\``);
  }
}

/** Checks the runner's logger once, at construction: a pino-style object with at least one level method. */
export function checkLogger(logger: unknown): Logger | undefined {
  if (logger === undefined) return undefined;
  const methods = ['debug', 'info', 'warn', 'error'] as const;
  const valid =
    typeof logger === 'object' &&
    logger !== null &&
    methods.every((m) => {
      const method = (logger as Record<string, unknown>)[m];
      return method === undefined || typeof method === 'function';
    }) &&
    methods.some((m) => typeof (logger as Record<string, unknown>)[m] === 'function');
  if (!valid) {
    throw new TypeError(
      `Expected \`logger\` to be a pino-style logger (debug, info, warn, error methods), got ${describeValue(logger)}`,
    );
  }
  return logger as Logger;
}

/** Checks the runner's shared RetryBudget once, at construction. */
export function checkBudget(budget: unknown): RetryBudget | undefined {
  if (budget === undefined || budget instanceof RetryBudget) return budget;
  throw new TypeError(`Expected \`budget\` to be a RetryBudget, got ${describeValue(budget)}`);
}
