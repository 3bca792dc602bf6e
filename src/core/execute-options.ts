import type { AttemptContext, ScopeFactory } from './attempt.js';
import type { CallAllowance } from './call-allowance.js';
import type { Classification, Classifier } from './classification.js';
import type { Clock } from './clock.js';
import type { ConcurrencyLimiter } from './concurrency-limiter.js';
import type { OperationTarget } from './diagnostics.js';
import type { RetryBudget } from './retry-budget.js';
import type { RetryPolicy, RetryPolicyOptions } from './retry-policy.js';

/** An error class (matched with instanceof) or a predicate; used by `retryOn`. */
export type RetryMatcher = (abstract new (...args: never[]) => unknown) | ((error: unknown) => boolean);

/** A pino-style logger; every method is optional and receives (object, message). */
export interface Logger {
  debug?(object: object, message: string): void;
  info?(object: object, message: string): void;
  warn?(object: object, message: string): void;
  error?(object: object, message: string): void;
}

/** Why execute stopped without a value. */
export type GiveUpReason =
  | 'not-retryable'
  | 'exhausted'
  | 'budget'
  | 'deadline'
  | 'ambiguous'
  | 'aborted'
  | 'rollback-failed';

/** What onRetry receives before the engine sleeps `delayMs`. */
export interface RetryEvent {
  readonly name: string;
  /** The attempt that failed (1-based). */
  readonly attempt: number;
  readonly error: unknown;
  readonly delayMs: number;
  /** Present when the classifier returned a Classification rather than a boolean. */
  readonly classification?: Classification;
}

/** What onGiveUp receives when the call ends in failure. */
export interface GiveUpEvent {
  readonly name: string;
  readonly attempt: number;
  /** The error the call rejects with (or would, with `raises: false`). */
  readonly error: unknown;
  readonly reason: GiveUpReason;
  readonly classification?: Classification;
  /** What the scope's rollback threw, when it did (then no retry was made). */
  readonly rollbackError?: unknown;
}

/** What onSuccess receives. */
export interface SuccessEvent {
  readonly name: string;
  readonly attempts: number;
  readonly elapsedMs: number;
}

/** Options of {@link execute}; all optional. `D` is the type of `default`. */
export interface ExecuteOptions<D = undefined> {
  /** Shown in logs, errors and diagnostics. Default: the op's function name, else 'operation'. */
  readonly name?: string;
  /** A policy from retryPolicy(), or its options. */
  readonly policy?: RetryPolicy | RetryPolicyOptions;
  /** Errors that may be retried at all (E3); default every error. dbop's AttemptTimeoutError always may. */
  readonly retryOn?: readonly RetryMatcher[];
  /** Decides retryability of a candidate error (E3). */
  readonly classifier?: Classifier;
  /** Default true: rethrow the last error, the same object. false: resolve to `default` instead (E4). */
  readonly raises?: boolean;
  readonly default?: D;
  /** Makes the transaction or savepoint each attempt runs in. */
  readonly scope?: ScopeFactory;
  /** Runs inside the scope before op, on every attempt (E5). */
  readonly preAttempt?: (context: AttemptContext) => unknown;
  readonly readOnly?: boolean;
  /** Limit of one attempt, ms (E6); at most 2^31 - 1 (Node's timer limit). */
  readonly attemptTimeoutMs?: number;
  /**
   * How long an attempt that timed out, and that dbop cannot stop on the server (no scope), is awaited
   * before another starts, ms (E13, default 5000). Still running then: the call ends with an
   * AttemptStillRunningError (ambiguous) unless readOnly or idempotent.
   */
  readonly cleanupTimeoutMs?: number;
  /**
   * Rides out a server outage (E16): a failure to connect, a server starting or shutting down, or a
   * connection lost with nothing in flight is retried past `maxRetries` until this many ms after the call
   * began, every `maxDelayMs` or so (equal jitter), the deadline and the signal still ruling. Default 0
   * (count only); the runner and createDatabase use 15000.
   */
  readonly outageMs?: number;
  /** Limit of the whole call, sleeps included, ms from the call's start (E7); at most 2^31 - 1. */
  readonly deadlineMs?: number;
  /** Aborting it stops the call at once, sleeps included, rejecting with `signal.reason` even with raises: false (E8). */
  readonly signal?: AbortSignal;
  /**
   * The work may safely run twice, so a failure whose outcome is ambiguous (classification.ambiguous) is
   * retried (E9). Without it such a failure ends the call with an AmbiguousCommitError whose cause is the
   * driver's error (an AmbiguousCommitError from a session is rethrown as is).
   */
  readonly idempotent?: boolean;
  /**
   * Shared cap on retries (E11), or the allowance of the call that owns this one (E14). A call started
   * inside another call's attempt, given none or a RetryBudget, draws from the outer call's allowance.
   */
  readonly budget?: RetryBudget | CallAllowance;
  /**
   * Admission shared by every unit on one database: each attempt waits for a permit (FIFO, within the
   * deadline and the signal) unless the calling context already holds one of this limiter (a nested step).
   */
  readonly limiter?: ConcurrencyLimiter;
  /**
   * True when op starts no call of its own (dbop's own single statement): its attempts run without marking
   * the async context as holding a permit and as the call whose allowance calls inside it draw from (E14).
   * The mark is an AsyncLocalStorage, which on Node 20 turns on promise hooks for every promise in the
   * process. A leaf nested in another call still draws from that call's allowance. Default false.
   */
  readonly leaf?: boolean;
  readonly onRetry?: (event: RetryEvent) => void;
  readonly onGiveUp?: (event: GiveUpEvent) => void;
  readonly onSuccess?: (event: SuccessEvent) => void;
  readonly logger?: Logger;
  /** What the operation runs against, published on 'dbop:operation' (OpenTelemetry's db.* attributes). */
  readonly target?: OperationTarget;
  /** E12: inject to make delays and timeouts deterministic. */
  readonly clock?: Clock;
  /** Returns values in [0, 1); drives jitter. Default Math.random. */
  readonly random?: () => number;
}

/** The operation execute runs: may return a value, a promise or any thenable (E10). */
export type Operation<T> = (context: AttemptContext) => T | PromiseLike<T>;
