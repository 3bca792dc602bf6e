import type { TransactionHistorySql } from '../../core/dialect-sql.js';

/**
 * Which history a transaction id belongs to: the server's system identifier (shared by a primary and its
 * standbys, set by initdb) and, on a primary, its timeline (every promotion starts a new one), read from the
 * name of the WAL segment being written. Empty timeline on a server in recovery, where no id is assigned.
 * Both are readable by any role (pg_control_system, pg_walfile_name), from PostgreSQL 10 on.
 */
const origin =
  "(SELECT system_identifier FROM pg_control_system())::text || '/' || " +
  "CASE WHEN pg_is_in_recovery() THEN '' ELSE substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END";

// txid_current_if_assigned()/txid_status() exist from PostgreSQL 10 on (13 added pg_current_xact_id_if_assigned()
// as the new name and keeps them): one statement for every supported version, no version probe. NULL for a
// transaction that never wrote: reading it assigns no id, so read-only work burns none and writes no WAL.
// The id carries its history, `xid@system/timeline`: a lookup trusts only a server with the same one.

/**
 * The server's history for a transaction id, NULL on a server in recovery. A primary's system and timeline
 * cannot change while a connection to it lives (a promotion happens only on a standby, a demotion needs a
 * restart), so one read on a primary serves the connection's life; pg_control_system() reads the control
 * file, about 0.2 ms: not paid per transaction.
 */
const history = `CASE WHEN pg_is_in_recovery() THEN NULL ELSE ${origin} END AS history`;

/** The open transaction's id (column `xid`), or NULL when it has none (it never wrote). */
export const postgresTransactionIdQuery: string = 'SELECT txid_current_if_assigned()::text AS xid';

/** Assigns the open transaction an id (column `xid`). */
export const postgresAssignTransactionIdQuery: string = 'SELECT txid_current()::text AS xid';

/** The two id queries with column `history` too: sent until a connection has read one on a primary. */
export const postgresTransactionHistory: TransactionHistorySql = {
  transactionIdQuery: `SELECT txid_current_if_assigned()::text AS xid, ${history}`,
  assignTransactionIdQuery: `SELECT txid_current()::text AS xid, ${history}`,
  idWithHistory: (xid: string, origin: string | null): string => (origin === null ? xid : `${xid}@${origin}`),
};

/**
 * `status`: txid_status($1) when this server's history is $2, the transaction's; else NULL, and `same` is
 * false: the id may since name another transaction here (a promoted standby that never got the WAL of the
 * old primary's transaction hands its ids out again).
 */
export const postgresCommitLookupQuery: string = `SELECT CASE WHEN ${origin} = $2 THEN txid_status($1::bigint) END AS status, ${origin} = $2 AS same`;

/** `xid@system/timeline` split; undefined for an id without its history. */
export function splitTransactionId(
  id: string,
): { readonly xid: string; readonly origin: string } | undefined {
  const at = id.indexOf('@');
  if (at <= 0) return undefined;
  const origin = id.slice(at + 1);
  // A history without a timeline (the id was read in recovery) proves nothing.
  return origin.endsWith('/') ? undefined : { xid: id.slice(0, at), origin };
}
