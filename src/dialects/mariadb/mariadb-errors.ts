import type { ErrorTable } from '../error-table.js';

/** Numbers only MariaDB gives this meaning (3024 and 4031 are NOT here: unused or unrelated on MariaDB). */
export const mariadbOnlyErrors: ErrorTable = [
  ['1969', 'statement-timeout', 'statement', 'max_statement_time exceeded (mysql2 gives it no `code` name)'],
  ['1927', 'connection-lost', 'connection', 'connection was killed (KILL CONNECTION, shutdown)'],
];

/** Client-side errors of the mariadb connector (45xxx `errno`), whatever server it talks to. */
export const mariadbClientErrors: ErrorTable = [
  ['45001', 'connection-lost', 'connection', 'connector: connection already closed'],
  [
    '45004',
    'connection-lost',
    'none',
    'connector: command not executed, connection destroyed on purpose',
    'final',
  ],
  ['45009', 'connection-lost', 'connection', 'connector: socket closed unexpectedly'],
  ['45011', 'connection-lost', 'connection', 'connector: unexpected packet, the stream is out of sync'],
  ['45012', 'connect-failed', 'connection', 'connector: connectTimeout passed; nothing was done'],
  ['45013', 'connection-lost', 'connection', 'connector: command on a closed connection'],
  ['45019', 'connection-lost', 'connection', 'connector: socket error'],
  ['45026', 'connection-lost', 'connection', 'connector: socketTimeout passed (client-side)'],
  ['45028', 'pool-exhausted', 'none', 'connector pool: acquireTimeout passed; the pool already waited'],
  ['45039', 'connect-failed', 'connection', 'connector pool: initializationTimeout passed'],
  ['45042', 'connection-lost', 'connection', 'connector: ping timeout'],
];
