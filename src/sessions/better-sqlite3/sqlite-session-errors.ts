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

/**
 * A write started, in the same async call chain, inside a transaction that holds a lock of the file it needs
 * (the write lock; a read lock for its COMMIT in rollback-journal mode): it would wait for that transaction,
 * which waits for it. Waiting cannot end it; failing at once names the fix.
 */
export function nestedWriteError(cause?: unknown): DbopError {
  return new DbopError(
    'DBOP_NESTED_WRITE',
    'A write to this SQLite file was started inside a write transaction on the same file, on another ' +
      'connection (or inside a readOnly one, whose read lock holds back its COMMIT without WAL): it would ' +
      "wait for the transaction that awaits it. Run it on the transaction's own connection (the `conn` its " +
      'callback got, the transaction not readOnly), give a read `readOnly: true`, or run it after the ' +
      'transaction ends.',
    { cause },
  );
}
