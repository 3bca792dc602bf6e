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

/** The SQL one backend needs for scopes, read-only steps and timeouts. Values are validated, never raw. */
export interface DialectSql {
  readonly dialect: Backend;
  /** True when ROLLBACK TO SAVEPOINT also undoes settings changed after the savepoint (Postgres). */
  readonly rollbackToUndoesSettings: boolean;
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
   * Where BEGIN cannot say READ ONLY (SQLite): statements run right after BEGIN to make the transaction
   * read-only (`apply`), and the ones that undo them once it ended (`restore`).
   */
  readonly readOnlyTransaction?: SettingStatements;
  /** A statement returning the current transaction id as column `xid` (Postgres), for commit verification. */
  readonly transactionIdQuery?: string;
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
