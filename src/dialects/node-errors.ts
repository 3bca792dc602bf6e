import type { ErrorTable } from './error-table.js';

/**
 * Node system errors (string `code`, negative `errno`). ETIMEDOUT and ECONNRESET count as connect-failed when
 * the failed syscall was `connect`: nothing was sent then.
 */
export const nodeErrors: ErrorTable = [
  ['ECONNREFUSED', 'connect-failed', 'connection', 'nothing listens there (server stopped or restarting)'],
  ['ENOTFOUND', 'connect-failed', 'connection', 'DNS: no such host'],
  ['EAI_AGAIN', 'connect-failed', 'connection', 'DNS: temporary failure'],
  ['EHOSTUNREACH', 'connect-failed', 'connection', 'no route to host'],
  ['ENETUNREACH', 'connect-failed', 'connection', 'network unreachable'],
  ['ENETDOWN', 'connect-failed', 'connection', 'network down'],
  ['ERR_SOCKET_CONNECTION_TIMEOUT', 'connect-failed', 'connection', 'autoSelectFamily attempt timed out'],
  [
    'ECONNRESET',
    'connection-lost',
    'connection',
    'peer reset the connection; ambiguous if COMMIT was in flight',
  ],
  ['EPIPE', 'connection-lost', 'connection', 'wrote to a closed socket'],
  ['ETIMEDOUT', 'connection-lost', 'connection', 'TCP timeout; connect-failed when it happened at connect'],
  ['ECONNABORTED', 'connection-lost', 'connection', 'connection aborted'],
  ['ERR_STREAM_DESTROYED', 'connection-lost', 'connection', 'wrote to a destroyed socket'],
  ['ERR_STREAM_WRITE_AFTER_END', 'connection-lost', 'connection', 'wrote to an ended socket'],
];
