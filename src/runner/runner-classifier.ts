import type { Backend, Classification } from '../core/classification.js';
import { isAmbiguousCommitError } from '../core/errors.js';
import { classify } from '../dialects/classify.js';
import { isVerifiedAbort } from '../sessions/shared/verify-commit.js';

const escalated: symbol = Symbol.for('dbop.escalated');

/** True when a nested run() handed this error to the owner of the transaction (rule S5). */
export function isEscalated(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[escalated] === true
  );
}

function markEscalated(error: unknown): void {
  if (typeof error === 'object' && error !== null && Object.isExtensible(error)) {
    Object.defineProperty(error, escalated, { value: true, configurable: true });
  }
}

const spent: symbol = Symbol.for('dbop.spent');

/** Marks an error a nested step gave up on after its retries, its budget or its deadline ran out (E14). */
export function markSpent(error: unknown): void {
  if (typeof error === 'object' && error !== null && Object.isExtensible(error)) {
    Object.defineProperty(error, spent, { value: true, configurable: true });
  }
}

function isSpent(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[spent] === true;
}

/** What the runner knows about where an error happened. */
export interface RunnerErrorContext {
  /** The step runs in a savepoint of the caller's transaction. */
  readonly nested: boolean;
  /** A new session can be taken for the next attempt (runner.transaction with a SessionSource). */
  readonly canReconnect: boolean;
  /** The caller said the work may be applied twice (E9). */
  readonly idempotent: boolean;
}

/**
 * The runner's verdict on one error. Nested: an error that only a restart of the whole transaction (or a
 * new connection) can fix is not retried in the savepoint; it is marked escalated and propagates (S5).
 * A COMMIT whose failure the session verified as aborted is safe to retry; one lost in flight and not
 * verified is ambiguous (E9): retried only when idempotent, else execute reports AmbiguousCommitError.
 */
export function runnerClassification(
  error: unknown,
  dialect: Backend | undefined,
  where: RunnerErrorContext,
): Classification {
  // classify() itself reads the session's commit-in-flight mark. Before any session was acquired (a refused
  // connect) the backend is unknown: classify() reads it from the error, never assumes Postgres (a MySQL 1040
  // read as Postgres is 'unknown' and was never retried).
  const base = classify(error, dialect === undefined ? {} : { dialect });
  let result = base;
  if (isVerifiedAbort(error)) result = { ...base, retryable: true, ambiguous: false };
  if (result.ambiguous) {
    // A fixed session cannot reconnect: the verdict is final even for idempotent work (a retry would only
    // meet the dead session). Idempotent callers get the original error (they may replay it themselves);
    // others an AmbiguousCommitError with it as cause, as execute reports every ambiguous failure.
    if (!where.canReconnect) {
      return { ...result, scope: 'connection', retryable: false, ambiguous: !where.idempotent };
    }
    // The session's own AmbiguousCommitError is rethrown as is; a raw error is left for execute to wrap.
    const retryable = where.idempotent || !isAmbiguousCommitError(error);
    return { ...result, scope: 'connection', retryable };
  }
  if (!result.retryable) return result;
  // A statement-scope error a nested step already retried as far as it could: the owner does not redo the
  // whole transaction for it (E14: no 6 x 6). Transaction- and connection-scope errors are the owner's.
  if (!where.nested && result.scope === 'statement' && isSpent(error)) return { ...result, retryable: false };
  if (where.nested && (result.scope === 'transaction' || result.scope === 'connection')) {
    markEscalated(error);
    return { ...result, retryable: false };
  }
  // A lost connection can only be retried on a new one.
  if (result.scope === 'connection' && !where.canReconnect) return { ...result, retryable: false };
  return result;
}
