import type { ErrorTable } from '../error-table.js';

/**
 * SQLite result codes by name (better-sqlite3's string `code`). Extended codes without an entry fall back
 * to their primary code (SQLITE_CONSTRAINT_UNIQUE -> SQLITE_CONSTRAINT).
 */
export const sqliteErrors: ErrorTable = [
  [
    'SQLITE_BUSY',
    'lock-timeout',
    'statement',
    'another connection holds the lock; from a deferred read->write upgrade: transaction',
  ],
  ['SQLITE_BUSY_RECOVERY', 'lock-timeout', 'statement', 'another connection is recovering the WAL'],
  ['SQLITE_BUSY_TIMEOUT', 'lock-timeout', 'statement', 'busy timeout passed (WAL)'],
  [
    'SQLITE_BUSY_SNAPSHOT',
    'serialization',
    'transaction',
    'WAL: the read snapshot is stale, restart the transaction',
  ],
  ['SQLITE_LOCKED', 'unknown', 'none', 'conflict inside the same connection: a bug, not contention'],
  [
    'SQLITE_LOCKED_SHAREDCACHE',
    'lock-timeout',
    'statement',
    'shared-cache table lock held by another connection',
  ],
  ['SQLITE_PROTOCOL', 'lock-timeout', 'statement', 'WAL lock race; retrying succeeds'],
  ['SQLITE_INTERRUPT', 'cancelled', 'statement', 'sqlite3_interrupt(); attempt-timeout when dbop sent it'],
  ['SQLITE_READONLY', 'read-only', 'none', 'database opened read-only or file not writable'],
  ['SQLITE_CONSTRAINT', 'constraint', 'none', 'UNIQUE, NOT NULL, CHECK, FOREIGN KEY...'],
  ['SQLITE_ERROR', 'syntax', 'none', 'SQL error or missing table/column'],
  ['SQLITE_AUTH', 'auth', 'none', 'authorizer denied the statement'],
  ['SQLITE_PERM', 'auth', 'none', 'access permission denied'],
];

/** Numeric result codes (node:sqlite's `errcode`, node-sqlite3's `errno`) of the names above. */
export const sqliteResultCodes: Readonly<Record<string, number>> = Object.freeze({
  SQLITE_ERROR: 1,
  SQLITE_PERM: 3,
  SQLITE_BUSY: 5,
  SQLITE_LOCKED: 6,
  SQLITE_READONLY: 8,
  SQLITE_INTERRUPT: 9,
  SQLITE_PROTOCOL: 15,
  SQLITE_CONSTRAINT: 19,
  SQLITE_AUTH: 23,
  SQLITE_BUSY_RECOVERY: 261,
  SQLITE_LOCKED_SHAREDCACHE: 262,
  SQLITE_BUSY_SNAPSHOT: 517,
  SQLITE_BUSY_TIMEOUT: 773,
});

/** Fallback for code-less errors (wrappers that kept only the text). */
export const sqliteMessages: ErrorTable = [
  ['database is locked', 'lock-timeout', 'statement', 'text of SQLITE_BUSY'],
];
