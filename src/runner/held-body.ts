import { isDbopError } from '../core/errors.js';
import type { Session } from '../core/session.js';

/**
 * body() as one attempt of a unit that owns the session's transaction, held to it (Session.holdTransaction):
 * when the body ended that transaction itself (its own COMMIT or ROLLBACK), the attempt fails with the
 * session's DBOP_TRANSACTION_BOUNDARY error whatever the body threw, which is never retried. Otherwise a
 * retryable error thrown after its own COMMIT would run the committed work again.
 */
export function heldBody<T>(session: Session, body: () => T | PromiseLike<T>): T | Promise<T> {
  session.holdTransaction?.();
  let outcome: T | PromiseLike<T>;
  try {
    outcome = body();
  } catch (error) {
    throw crossedIn(session) ?? error;
  }
  if (typeof (outcome as PromiseLike<T> | null)?.then !== 'function') return outcome as T;
  return Promise.resolve(outcome).then(undefined, (error: unknown) => {
    throw crossedIn(session) ?? error;
  });
}

/** The boundary error the session holds for the body's ending of its transaction, else undefined. */
function crossedIn(session: Session): unknown {
  const ended = session.endedBy;
  return isDbopError(ended, 'DBOP_TRANSACTION_BOUNDARY') ? ended : undefined;
}
