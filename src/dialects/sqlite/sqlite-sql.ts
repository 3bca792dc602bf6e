import type { DialectSql, SettingStatements, TimeoutSettings } from '../../core/dialect-sql.js';
import { checkIdentifier, checkTimeoutMs } from '../../core/dialect-sql.js';
import type { IsolationLevel } from '../../core/session.js';

/** Options of {@link sqliteSql}. */
export interface SqliteSqlOptions {
  /** The connection's own busy timeout, restored after a step (default 0). */
  readonly baseBusyTimeoutMs?: number;
  /** The connection's own PRAGMA query_only, restored after a read-only step or transaction (default false). */
  readonly baseQueryOnly?: boolean;
  /**
   * The longest busy wait a step may ask for. better-sqlite3 waits synchronously, blocking the event loop,
   * so long waits are better left to dbop's async backoff (default 20).
   */
  readonly maxBusyTimeoutMs?: number;
}

/**
 * SQLite scope SQL: BEGIN IMMEDIATE for writers (a deferred read that upgrades to a write can fail with a
 * BUSY that no waiting fixes), PRAGMA query_only for read-only steps, a capped busy timeout for locks.
 * Statement timeouts have no SQLite equivalent and are ignored.
 */
export function sqliteSql(options: SqliteSqlOptions = {}): DialectSql {
  const base = options.baseBusyTimeoutMs ?? 0;
  const cap = options.maxBusyTimeoutMs ?? 20;
  const queryOnly = {
    apply: ['PRAGMA query_only = 1'],
    restore: [`PRAGMA query_only = ${options.baseQueryOnly === true ? 1 : 0}`],
  };
  if (!Number.isSafeInteger(base) || base < 0) {
    throw new TypeError(`Expected \`baseBusyTimeoutMs\` to be a non-negative integer, got ${String(base)}`);
  }
  if (!Number.isSafeInteger(cap) || cap < 0) {
    throw new TypeError(`Expected \`maxBusyTimeoutMs\` to be a non-negative integer, got ${String(cap)}`);
  }
  return Object.freeze({
    dialect: 'sqlite',
    rollbackToUndoesSettings: false,
    begin(beginOptions: {
      readonly readOnly?: boolean;
      readonly isolationLevel?: IsolationLevel;
    }): readonly string[] {
      const level = beginOptions.isolationLevel;
      if (level !== undefined && level !== 'serializable') {
        throw new TypeError(`Expected \`isolationLevel\` to be 'serializable' on SQLite, got ${level}`);
      }
      return [beginOptions.readOnly === true ? 'BEGIN DEFERRED' : 'BEGIN IMMEDIATE'];
    },
    commit: (): string => 'COMMIT',
    rollback: (): string => 'ROLLBACK',
    savepoint: (name: string): string => `SAVEPOINT ${checkIdentifier(name)}`,
    releaseSavepoint: (name: string): string => `RELEASE SAVEPOINT ${checkIdentifier(name)}`,
    rollbackToSavepoint: (name: string): string => `ROLLBACK TO SAVEPOINT ${checkIdentifier(name)}`,
    // A transaction of its own gets the switch from begin (readOnlyTransaction); a nested step sets it here.
    readOnlyStep: (nested: boolean) => (nested ? { ...queryOnly, undoByRollbackTo: false } : undefined),
    readOnlyTransaction: queryOnly,
    timeouts(settings: TimeoutSettings): SettingStatements {
      checkTimeoutMs('statementTimeoutMs', settings.statementTimeoutMs);
      const lock = checkTimeoutMs('lockTimeoutMs', settings.lockTimeoutMs);
      if (lock === undefined) return { apply: [], restore: [] };
      return {
        // 0 ("no timeout") waits as long as a step may: the cap, since the wait blocks the event loop.
        apply: [`PRAGMA busy_timeout = ${lock === 0 ? cap : Math.min(lock, cap)}`],
        restore: [`PRAGMA busy_timeout = ${base}`],
      };
    },
    sessionTimeouts(settings: TimeoutSettings): readonly string[] {
      checkTimeoutMs('statementTimeoutMs', settings.statementTimeoutMs);
      const lock = checkTimeoutMs('lockTimeoutMs', settings.lockTimeoutMs);
      return [`PRAGMA busy_timeout = ${lock === undefined ? base : Math.min(lock, cap)}`];
    },
  });
}
