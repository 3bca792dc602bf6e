import type { ErrorTable } from '../error-table.js';

/** PostgreSQL SQLSTATEs with a verdict of their own; exact codes win over {@link postgresErrorClasses}. */
export const postgresErrors: ErrorTable = [
  [
    '40001',
    'serialization',
    'transaction',
    'could not serialize access; ROLLBACK TO repeats the same snapshot',
  ],
  ['40P01', 'deadlock', 'transaction', 'deadlock detected; locks taken before a savepoint stay held'],
  ['40002', 'constraint', 'none', 'integrity constraint violation at commit (deferred constraint)'],
  [
    '40003',
    'connection-lost',
    'connection',
    'statement completion unknown: the outcome is unknown',
    'ambiguous',
  ],
  ['55P03', 'lock-timeout', 'statement', 'lock_timeout, or NOWAIT could not obtain lock'],
  [
    '57014',
    'statement-timeout',
    'statement',
    'statement_timeout; "due to user request" is a cancel (see hints)',
  ],
  [
    '57P01',
    'server-shutdown',
    'connection',
    'admin shutdown or pg_terminate_backend; ambiguous during COMMIT',
  ],
  ['57P02', 'connection-lost', 'connection', 'crash of another backend; the server resets every session'],
  [
    '57P03',
    'server-starting',
    'connection',
    'cannot connect now: starting up, shutting down, or in recovery',
  ],
  [
    '57P05',
    'connection-lost',
    'connection',
    'idle_session_timeout closed an idle session; nothing was running',
  ],
  ['53300', 'too-many-connections', 'connection', 'max_connections or a role/database connection limit'],
  ['08001', 'connect-failed', 'connection', 'client unable to establish connection; nothing was done'],
  ['08004', 'connect-failed', 'connection', 'server rejected the connection; nothing was done'],
  ['08007', 'connection-lost', 'connection', 'transaction resolution unknown', 'ambiguous'],
  ['25006', 'read-only', 'none', 'read-only transaction or hot standby; retry only on a primary'],
  ['25P02', 'unknown', 'none', 'in failed transaction: an earlier error was swallowed; never retry in place'],
  ['25P03', 'connection-lost', 'connection', 'idle_in_transaction_session_timeout ended the session'],
  ['25P04', 'connection-lost', 'connection', 'transaction_timeout (PG17) ended the session'],
  ['42501', 'auth', 'none', 'insufficient privilege; checked before the 42 class (syntax)'],
];

/** Verdicts by SQLSTATE class (first two characters) for codes without an exact entry. */
export const postgresErrorClasses: ErrorTable = [
  ['08', 'connection-lost', 'connection', 'connection exception; ambiguous if a COMMIT was in flight'],
  ['23', 'constraint', 'none', 'integrity constraint violation (unique, foreign key, not null, check)'],
  ['28', 'auth', 'none', 'invalid authorization specification (bad password, no pg_hba entry)'],
  ['42', 'syntax', 'none', 'syntax error or access rule violation (undefined table, column...)'],
];
