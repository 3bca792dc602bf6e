import type { ErrorTable } from '../error-table.js';

/** mysql2's own string codes (no `errno` number): the client, not the server, produced these. */
export const mysql2ClientErrors: ErrorTable = [
  ['PROTOCOL_CONNECTION_LOST', 'connection-lost', 'connection', 'mysql2: the server closed the connection'],
  [
    'PROTOCOL_SEQUENCE_TIMEOUT',
    'statement-timeout',
    'connection',
    'mysql2 `timeout`: client-side, the query runs on',
  ],
  ['PROTOCOL_ERROR', 'connection-lost', 'connection', 'mysql2: protocol error, the connection is closed'],
  [
    'PROTOCOL_UNEXPECTED_PACKET',
    'connection-lost',
    'connection',
    'mysql2: unexpected packet, the connection is closed',
  ],
];

/** Fallbacks for code-less MySQL-family errors, matched as lowercase substrings. */
export const mysqlMessages: ErrorTable = [
  ['deadlock found when trying to get lock', 'deadlock', 'transaction', 'text of 1213'],
  ['lock wait timeout exceeded', 'lock-timeout', 'statement', 'text of 1205'],
  ['nowait is set', 'lock-timeout', 'statement', 'text of 3572'],
  [
    "can't add new command when connection is in closed state",
    'connection-lost',
    'connection',
    'mysql2: dead connection',
  ],
  ["can't write in closed state", 'connection-lost', 'connection', 'mysql2: dead connection'],
  ['no connections available.', 'pool-exhausted', 'none', 'mysql2 pool: waitForConnections is false'],
  ['queue limit reached.', 'pool-exhausted', 'none', 'mysql2 pool: queueLimit reached'],
  ['server has gone away', 'connection-lost', 'connection', 'text of 2006'],
  ['lost connection to', 'connection-lost', 'connection', 'text of 2013'],
];
