const brand: symbol = Symbol.for('dbop.error');

/** Options every dbop error accepts. */
export interface DbopErrorOptions {
  readonly cause?: unknown;
}

/**
 * Base class of every error dbop throws itself. `code` is stable across versions; the brand survives two
 * copies of the package in one process, so use {@link isDbopError} rather than instanceof.
 */
export class DbopError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: DbopErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
    // Non-enumerable, so it never shows in logs or JSON.
    Object.defineProperty(this, brand, { value: true });
  }
}

/** True for any dbop error, whichever copy of the package made it; with `code`, only for that code. */
export function isDbopError(value: unknown, code?: string): value is DbopError {
  if (typeof value !== 'object' || value === null || (value as Record<symbol, unknown>)[brand] !== true) {
    return false;
  }
  return code === undefined || (value as DbopError).code === code;
}

/** Stable codes of the errors the core engine throws itself. */
export const coreErrorCodes: {
  readonly attemptTimeout: 'DBOP_ATTEMPT_TIMEOUT';
  readonly deadlineExceeded: 'DBOP_DEADLINE_EXCEEDED';
  readonly ambiguousCommit: 'DBOP_AMBIGUOUS_COMMIT';
} = Object.freeze({
  attemptTimeout: 'DBOP_ATTEMPT_TIMEOUT',
  deadlineExceeded: 'DBOP_DEADLINE_EXCEEDED',
  ambiguousCommit: 'DBOP_AMBIGUOUS_COMMIT',
});

/** One attempt ran past `attemptTimeoutMs`. Retryable: the next attempt may be faster. */
export class AttemptTimeoutError extends DbopError {
  /** The 1-based attempt that timed out. */
  readonly attempt: number;
  readonly timeoutMs: number;

  constructor(name: string, attempt: number, timeoutMs: number) {
    super(coreErrorCodes.attemptTimeout, `${name}: attempt ${attempt} timed out after ${timeoutMs} ms`);
    this.attempt = attempt;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The whole call ran past `deadlineMs` while an attempt was still running. Not retryable. `cause` is the
 * previous attempt's error, when there was one.
 */
export class DeadlineExceededError extends DbopError {
  readonly deadlineMs: number;

  constructor(name: string, deadlineMs: number, options?: DbopErrorOptions) {
    super(coreErrorCodes.deadlineExceeded, `${name}: deadline of ${deadlineMs} ms exceeded`, options);
    this.deadlineMs = deadlineMs;
  }
}

/**
 * A retryable failure hit while a COMMIT or an autocommit write was in flight, so the work may or may not
 * have been applied; dbop did not retry because the call was not marked `idempotent`. `cause` is the
 * driver's error.
 */
export class AmbiguousCommitError extends DbopError {
  constructor(name: string, options: DbopErrorOptions, message?: string) {
    super(
      coreErrorCodes.ambiguousCommit,
      message ??
        `${name}: the outcome is unknown (the connection failed while a commit was in flight); not retried because the call is not idempotent`,
      options,
    );
  }
}

/**
 * An attempt timed out, dbop could not stop its work (no scope: the op is opaque), and it was still running
 * when the cleanup limit passed: it may yet apply its work, so the call did not start another attempt
 * (E13). An {@link AmbiguousCommitError} (same code); `cause` is the attempt's AttemptTimeoutError.
 */
export class AttemptStillRunningError extends AmbiguousCommitError {
  constructor(name: string, cleanupTimeoutMs: number, options: DbopErrorOptions) {
    super(
      name,
      options,
      `${name}: the attempt that timed out was still running ${cleanupTimeoutMs} ms later and may yet apply its work; not retried because the call is neither readOnly nor idempotent`,
    );
  }
}

/** True for an {@link AttemptTimeoutError} from any copy of dbop. */
export function isAttemptTimeoutError(value: unknown): value is AttemptTimeoutError {
  return isDbopError(value, coreErrorCodes.attemptTimeout);
}

/** True for a {@link DeadlineExceededError} from any copy of dbop. */
export function isDeadlineExceededError(value: unknown): value is DeadlineExceededError {
  return isDbopError(value, coreErrorCodes.deadlineExceeded);
}

/** True for an {@link AmbiguousCommitError} from any copy of dbop. */
export function isAmbiguousCommitError(value: unknown): value is AmbiguousCommitError {
  return isDbopError(value, coreErrorCodes.ambiguousCommit);
}
