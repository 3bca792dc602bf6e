import type { ErrorTable } from '../error-table.js';

/** CockroachDB speaks Postgres' SQLSTATEs; these entries override the Postgres table. */
export const cockroachErrors: ErrorTable = [
  [
    '40001',
    'serialization',
    'transaction',
    'every retry error ("restart transaction"), also at COMMIT or RELEASE',
  ],
  [
    '40003',
    'connection-lost',
    'transaction',
    'result is ambiguous: never retry non-idempotent work',
    'ambiguous',
  ],
];
