import type { ErrorTable } from '../error-table.js';

/** postgres.js connection errors: string `code` (also copied to `errno`) set by the driver, not the server. */
export const postgresJsClientErrors: ErrorTable = [
  [
    'CONNECTION_CLOSED',
    'connection-lost',
    'connection',
    'postgres.js: the socket closed with a query in flight',
  ],
  [
    'CONNECT_TIMEOUT',
    'connect-failed',
    'connection',
    'postgres.js: connect_timeout passed; nothing was sent',
  ],
  [
    'CONNECTION_ENDED',
    'connection-lost',
    'none',
    'postgres.js: sql.end() was called; the client is gone',
    'final',
  ],
  [
    'CONNECTION_DESTROYED',
    'connection-lost',
    'none',
    'postgres.js: the connection was destroyed on purpose',
    'final',
  ],
];

/**
 * node-postgres and pg-pool errors that carry no code, matched on the whole message (lowercase). Exact
 * matches only: the same words inside a longer message mean something else.
 */
export const pgExactMessages: ErrorTable = [
  [
    'connection terminated',
    'connection-lost',
    'connection',
    'pg: the client was ended while queries were queued',
  ],
  [
    'connection terminated unexpectedly',
    'connection-lost',
    'connection',
    'pg: the server or network closed it',
  ],
  ['timeout expired', 'connect-failed', 'connection', 'pg: connectionTimeoutMillis passed while connecting'],
  [
    'connection terminated due to connection timeout',
    'connect-failed',
    'connection',
    'pg-pool: connectionTimeoutMillis passed while connecting',
  ],
  [
    'client has encountered a connection error and is not queryable',
    'connection-lost',
    'connection',
    'pg: the client saw a connection error earlier',
  ],
  [
    'client was closed and is not queryable',
    'connection-lost',
    'none',
    'pg: client.end() was called',
    'final',
  ],
  [
    'timeout exceeded when trying to connect',
    'pool-exhausted',
    'none',
    'pg-pool: no client within connectionTimeoutMillis; the pool already waited, not a database fault',
  ],
  [
    'query read timeout',
    'statement-timeout',
    'connection',
    'pg query_timeout: client-side only, the statement keeps running, so the connection is unusable',
  ],
];

/** Fallbacks for code-less errors (wrappers that kept only the text), matched as lowercase substrings. */
export const postgresMessages: ErrorTable = [
  ['could not serialize access', 'serialization', 'transaction', 'text of 40001'],
  ['deadlock detected', 'deadlock', 'transaction', 'text of 40P01'],
  ['canceling statement due to lock timeout', 'lock-timeout', 'statement', 'text of 55P03 (lock_timeout)'],
  ['could not obtain lock', 'lock-timeout', 'statement', 'text of 55P03 (NOWAIT)'],
  ['canceling statement due to statement timeout', 'statement-timeout', 'statement', 'text of 57014'],
];
