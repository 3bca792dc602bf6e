import { DbopError } from '../../core/errors.js';

/** What a BEGIN that waited in line meets once the session was destroyed meanwhile. */
export function destroyedError(): DbopError {
  return new DbopError(
    'DBOP_SESSION_DESTROYED',
    'The session was destroyed while BEGIN waited for the write lock',
  );
}

/**
 * A wait for the write lock that cancel() cut short: the caller's abort or time limit, nothing the database
 * said (stats() does not count it). `cause` is the last SQLITE_BUSY, when the lock was held elsewhere.
 */
export function waitCancelledError(cause?: unknown): DbopError {
  return new DbopError('DBOP_LOCK_WAIT_CANCELLED', 'The wait for the SQLite write lock was cancelled', {
    cause,
  });
}
