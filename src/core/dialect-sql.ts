import type { Backend } from './classification.js';
import type { IsolationLevel } from './session.js';
import { expectServerTimeoutMs } from './validate.js';

/** Per-step server timeouts in milliseconds; 0 means no timeout, undefined leaves the setting alone. */
export interface TimeoutSettings {
  readonly lockTimeoutMs?: number | undefined;
  readonly statementTimeoutMs?: number | undefined;
}

/**
 * Where timeouts live: 'transaction' (a transaction the scope owns: gone at its end), 'savepoint' (inside a
 * caller's transaction: restore after RELEASE), 'session' (no transaction: restore explicitly).
 */
export type SettingScope = 'transaction' | 'savepoint' | 'session';

/** Statements that change settings for a step and the ones that put them back. */
export interface SettingStatements {
  readonly apply: readonly string[];
  readonly restore: readonly string[];
}

/**
 * The commit-marker table (MySQL family): a row with a random id written in the COMMIT batch tells, looked up
 * from another connection after a lost COMMIT, whether that transaction committed.
 */
export interface CommitMarkerSql {
  /** Creates the table when missing; DDL, so run outside any transaction. */
  readonly create: string;
  insert(id: string): string;
  /** Column `found`: 1 when the marker committed. A locking read: waits while its transaction still runs. */
  lookup(id: string): string;
  /** Deletes a bounded number of markers older than an hour. */
  readonly prune: string;
}

/** Checks a commit-marker id (32 hex digits) before it goes into SQL. */
export function checkMarkerId(id: string): string {
  if (!/^[0-9a-f]{32}$/.test(id))
    throw new TypeError(`Expected a commit marker id of 32 hex digits, got ${id}`);
  return id;
}

/** The SQL one backend needs for scopes, read-only steps and timeouts. Values are validated, never raw. */
export interface DialectSql {
  readonly dialect: Backend;
  /** True when ROLLBACK TO SAVEPOINT also undoes settings changed after the savepoint (Postgres). */
  readonly rollbackToUndoesSettings: boolean;
  /**
   * True when the server looks for a deadlock only after a lock wait lasted a while (Postgres's
   * deadlock_timeout, 1 s by default): there a shorter lock timeout under contention ends deadlocks sooner.
   * InnoDB finds them when the wait begins.
   */
  readonly deadlockFoundAfterWait?: boolean;
  begin(options: {
    readonly readOnly?: boolean;
    readonly isolationLevel?: IsolationLevel;
  }): readonly string[];
  commit(): string;
  rollback(): string;
  savepoint(name: string): string;
  releaseSavepoint(name: string): string;
  rollbackToSavepoint(name: string): string;
  /**
   * Makes the current step read-only. `undoByRollbackTo` means the step must end with ROLLBACK TO (its
   * setting cannot be switched back otherwise); undefined when the dialect cannot do it without leaking.
   */
  readOnlyStep(nested: boolean):
    | {
        readonly apply: readonly string[];
        readonly restore: readonly string[];
        readonly undoByRollbackTo: boolean;
      }
    | undefined;
  timeouts(settings: TimeoutSettings, slot: number, scope: SettingScope): SettingStatements;
  /**
   * Makes these values the connection's own settings, nothing saved: for a connection whose settings dbop
   * owns (its pool's), set once and kept. An undefined value goes back to the server's default.
   */
  sessionTimeouts(settings: TimeoutSettings): readonly string[];
  /**
   * Where BEGIN cannot say READ ONLY (SQLite): statements run right after BEGIN to make the transaction
   * read-only (`apply`), and the ones that undo them once it ended (`restore`).
   */
  readonly readOnlyTransaction?: SettingStatements;
  /**
   * A statement returning the transaction's id as column `xid`, or NULL when it never wrote (Postgres), for
   * commit verification: sent in the COMMIT batch, right before COMMIT, so it assigns no id of its own.
   */
  readonly transactionIdQuery?: string;
  /**
   * The same id read at BEGIN, assigning one (so every transaction burns one): for drivers that lose the rows
   * of a batch whose COMMIT failed, where the id must be known before COMMIT is sent.
   */
  readonly assignTransactionIdQuery?: string;
  /** Where a transaction id means something only with the server's history (Postgres: system and timeline). */
  readonly transactionHistory?: TransactionHistorySql;
  /** Commit markers, where the server keeps no transaction status to ask (MySQL, MariaDB). */
  readonly commitMarker?: CommitMarkerSql;
}

/**
 * The transaction id queries again, also returning column `history`: the server's history, or NULL where
 * it may still change while the connection lives (a standby, which a promotion moves to a new timeline).
 * A session sends these until it has read a non-NULL history, then the plain ones, and joins the id with
 * the history it keeps: the history is read once per connection, not per transaction.
 */
export interface TransactionHistorySql {
  readonly transactionIdQuery: string;
  readonly assignTransactionIdQuery: string;
  /** The id recorded for verification: `xid` with its history (null: none known, a lookup proves nothing). */
  idWithHistory(xid: string, history: string | null): string;
}

/**
 * Checks a server timeout before it goes into SQL: whole ms from 0 to 2^31 - 1, or undefined. 0 means no
 * timeout; each dialect turns it into its own "wait forever" value.
 */
export function checkTimeoutMs(name: string, value: unknown): number | undefined {
  return expectServerTimeoutMs(name, value);
}

/** Checks a generated identifier (savepoint name) before it goes into SQL. */
export function checkIdentifier(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new TypeError(`Expected a plain identifier, got ${name}`);
  return name;
}
