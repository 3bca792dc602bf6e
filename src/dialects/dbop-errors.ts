import type { ErrorTable } from './error-table.js';

/**
 * dbop's own errors (DbopError `code`). Checked before any cause: dbop's verdict on its own error is final.
 * A pool timeout is not retried: the pool already waited, and retrying multiplies the load that caused it.
 */
export const dbopErrors: ErrorTable = [
  ['DBOP_ATTEMPT_TIMEOUT', 'attempt-timeout', 'statement', 'attemptTimeoutMs passed; the scope rolled back'],
  [
    'DBOP_DEADLINE_EXCEEDED',
    'attempt-timeout',
    'none',
    'deadlineMs passed: no time is left to retry',
    'final',
  ],
  [
    'DBOP_AMBIGUOUS_COMMIT',
    'connection-lost',
    'connection',
    'lost during COMMIT, outcome unverified',
    'ambiguous',
  ],
  [
    'DBOP_NO_HOST_AVAILABLE',
    'connect-failed',
    'connection',
    'no host reachable with the role asked for (a failover in progress): try again',
  ],
  [
    'DBOP_NO_HOST_ACCEPTS',
    'auth',
    'none',
    'every host refused the login for good (wrong password, no such user or database): retrying cannot help',
  ],
  [
    'DBOP_NESTED_WRITE',
    'unknown',
    'none',
    "SQLite: a write begun inside a transaction on the same file that holds a lock it needs (a write, or a read with sqliteWal false), on another connection: run it on the transaction's own",
    'final',
  ],
  [
    'DBOP_LOCK_WAIT_CANCELLED',
    'cancelled',
    'statement',
    'SQLite: cancel() ended a wait for the write lock (an abort or time limit); not counted in stats()',
  ],
  [
    'DBOP_TRANSACTION_BOUNDARY',
    'unknown',
    'none',
    "the unit's own statement began, committed or ended dbop's transaction: its work may have committed",
    'final',
  ],
  ['DBOP_POOL_TIMEOUT', 'pool-exhausted', 'none', 'no connection within acquireTimeoutMs'],
  [
    'DBOP_CONNECTION_ENDED_ON_OPEN',
    'connect-failed',
    'connection',
    'the server ended a new connection before it was lent (killed during the handshake): try again',
  ],
];
