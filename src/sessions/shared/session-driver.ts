import type { Backend } from '../../core/classification.js';
import type { DialectSql } from '../../core/dialect-sql.js';
import type { QueryResult } from '../../core/session.js';

/**
 * Outcome of a transaction after its COMMIT was lost, as the server reports it; 'other history' when the
 * server that answered does not hold the transaction's history (a failover), so its answer proves nothing.
 */
export type CommitStatus = 'committed' | 'aborted' | 'in progress' | 'unknown' | 'other history';

/** What a driver adapter gives {@link DriverSession}: the few operations that differ per driver. */
export interface SessionDriver<Raw> {
  readonly dialect: Backend;
  readonly sql: DialectSql;
  readonly raw: Raw;
  query(sql: string, params: readonly unknown[] | undefined): Promise<QueryResult<Record<string, unknown>>>;
  /**
   * Parameterless statements in order, in as few round trips as the driver allows; the last rows. With
   * `onRow` (drivers that set {@link rowsAsTheyArrive}), every row is passed on as it arrives, so rows of
   * statements that ran before one that failed (or before the connection was lost) are still seen.
   */
  batch(
    statements: readonly string[],
    onRow?: (row: Record<string, unknown>) => void,
  ): Promise<Record<string, unknown>[]>;
  /**
   * Runs the BEGIN batch of {@link DriverSession.begin} in place of batch(): SQLite waits there for the
   * write lock. `readOnly` as begin was asked.
   */
  beginBatch?(statements: readonly string[], readOnly: boolean): Promise<Record<string, unknown>[]>;
  /** True when batch() honours `onRow`: the transaction id is then read with the COMMIT, not at BEGIN. */
  readonly rowsAsTheyArrive?: boolean;
  /**
   * True when `error`, the failure of the last batch, is the server ending the connection in order: every
   * row the batch produced before it was passed to `onRow`, and no statement of the batch ran after it. A
   * statement whose rows were due but not seen then never completed, nor did any statement after it.
   */
  endedInOrder?(error: unknown): boolean;
  /** The transaction state the driver itself knows (pg, PGlite, better-sqlite3), or undefined. */
  inTransaction?(): boolean | undefined;
  /**
   * What the server last said about the connection, without a round trip: true when it reported the
   * connection idle outside any transaction (pg: ReadyForQuery 'I'; MySQL family: an OK packet without
   * SERVER_STATUS_IN_TRANS), false when it reported a transaction (open or aborted) or an answer is still
   * owed, undefined when the driver keeps no such report.
   */
  serverIdle?(): boolean | undefined;
  /**
   * Asks the server whether a transaction is open, for drivers that cannot tell (one cheap round trip);
   * without it, only transactions begun through the session are known.
   */
  probeTransaction?(): Promise<boolean>;
  /** The command tag of the last statement of the last batch (Postgres: 'ROLLBACK' for a failed COMMIT). */
  lastCommand?(): string | undefined;
  /** True when an error ended the whole transaction on the server (MySQL 1213). */
  endsTransaction?(error: unknown): boolean;
  /** True when the connection can no longer be used (socket closed, fatal error). */
  isBroken?(): boolean;
  cancel?(): Promise<void>;
  destroy(): void;
  /**
   * Asks the server, from another connection, whether a transaction committed: by its id (Postgres), or by
   * the commit-marker row written with its COMMIT (MySQL family, when {@link marksCommits}).
   */
  commitStatus?(transactionId: string): Promise<CommitStatus>;
  /** True when commits are verified by marker rows (sql.commitMarker): each write transaction writes one. */
  readonly marksCommits?: boolean;
  /** What identifies the server for the marker table created once (the pool); default the driver itself. */
  readonly markerScope?: object;
}
