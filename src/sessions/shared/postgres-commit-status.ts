import {
  postgresCommitLookupQuery,
  splitTransactionId,
} from '../../dialects/postgres/postgres-commit-lookup.js';
import type { CommitStatus } from './session-driver.js';

/**
 * Asks `query` (another connection) what became of transaction `transactionId` (`xid@system/timeline`).
 * Only a server with the transaction's history answers: another one (a promoted standby, another timeline
 * or system) may have given the same id to a transaction of its own, so its word is 'other history'.
 */
export async function postgresCommitStatus(
  transactionId: string,
  query: (sql: string, params: readonly string[]) => Promise<readonly Record<string, unknown>[]>,
): Promise<CommitStatus> {
  const id = splitTransactionId(transactionId);
  if (id === undefined) return 'unknown';
  const row = (await query(postgresCommitLookupQuery, [id.xid, id.origin]))[0];
  if (row?.same !== true) return 'other history';
  const status = row.status;
  return status === 'committed' || status === 'aborted' || status === 'in progress' ? status : 'unknown';
}
