/** What op, scope and preAttempt receive on every attempt. Read-only: assigning a field throws. */
export interface AttemptContext {
  /** 1-based attempt number. */
  readonly attempt: number;
  /** Aborts when the attempt times out, the deadline passes or the caller's signal aborts. */
  readonly signal: AbortSignal;
  readonly readOnly: boolean;
  readonly name: string;
  /** Clock time (ms) at which this attempt started. */
  readonly startedAt: number;
  /** Milliseconds left before the attempt's own limit or the call's deadline, whichever is nearer; Infinity when neither is set. */
  remainingMs(): number;
}

/**
 * The unit one attempt runs in: a transaction, a SAVEPOINT, or anything with the same shape.
 * `begin` runs before preAttempt and op; `commit` after op succeeded; `rollback` after any failure,
 * including a timeout or an abort, so nothing is ever left open. A scope whose rollback cannot restore a
 * known state (the connection is gone or a statement is still running) must discard the connection.
 * What execute guarantees: a begin that throws or rejects is not rolled back; a commit that fails is; the
 * attempt limit never interrupts commit; after a timeout or an abort, rollback runs at once with
 * `context.signal` aborted, while begin, preAttempt or op may still be in flight; rollback is awaited
 * before any backoff sleep; and a rollback that throws ends the call (no retry on a scope in an unknown
 * state), rejecting with the attempt's own error (onGiveUp receives the rollback's as `rollbackError`).
 */
export interface AttemptScope {
  begin(context: AttemptContext): void | PromiseLike<void>;
  commit(context: AttemptContext): void | PromiseLike<void>;
  rollback(context: AttemptContext, error: unknown): void | PromiseLike<void>;
}

/** Makes the scope for one attempt. */
export type ScopeFactory = (context: AttemptContext) => AttemptScope;
