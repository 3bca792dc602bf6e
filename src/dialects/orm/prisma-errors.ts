import type { ErrorTable } from '../error-table.js';

/**
 * Prisma's own codes (PrismaClientKnownRequestError `code`, or `errorCode` on init errors). P2010 (raw query
 * failed) has no entry: its `meta.code` holds the database's code, which the cause walk reads instead.
 */
export const prismaErrors: ErrorTable = [
  ['P2034', 'serialization', 'transaction', 'write conflict or deadlock: retry the transaction'],
  ['P2028', 'statement-timeout', 'transaction', 'interactive transaction expired or could not start in time'],
  [
    'P2024',
    'pool-exhausted',
    'none',
    'timed out fetching a connection from the pool; the pool already waited',
  ],
  ['P1001', 'connect-failed', 'connection', "can't reach the database server"],
  ['P1002', 'connect-failed', 'connection', 'the server was reached but timed out'],
  ['P1017', 'connection-lost', 'connection', 'the server closed the connection'],
  ['P1000', 'auth', 'none', 'authentication failed'],
  ['P2002', 'constraint', 'none', 'unique constraint failed'],
  ['P2003', 'constraint', 'none', 'foreign key constraint failed'],
];
