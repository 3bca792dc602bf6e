import type { Backend } from '../../core/classification.js';
import type { DialectSql, SettingScope, SettingStatements, TimeoutSettings } from '../../core/dialect-sql.js';
import { checkIdentifier, checkTimeoutMs } from '../../core/dialect-sql.js';
import type { IsolationLevel } from '../../core/session.js';
import {
  postgresAssignTransactionIdQuery,
  postgresTransactionHistory,
  postgresTransactionIdQuery,
} from './postgres-commit-lookup.js';

const settingNames = { lockTimeoutMs: 'lock_timeout', statementTimeoutMs: 'statement_timeout' } as const;

/**
 * Postgres scope SQL. Timeouts are SET LOCAL (validated integers): inside a savepoint the previous value is
 * first copied into a dbop.* placeholder with set_config(..., true) on the server, and put back from it after
 * RELEASE, so restoring costs no extra round trip.
 */
export function postgresSql(dialect: Backend = 'postgres'): DialectSql {
  return Object.freeze({
    dialect,
    rollbackToUndoesSettings: true,
    deadlockFoundAfterWait: true,
    begin(options: {
      readonly readOnly?: boolean;
      readonly isolationLevel?: IsolationLevel;
    }): readonly string[] {
      let sql = 'BEGIN';
      if (options.isolationLevel !== undefined)
        sql += ` ISOLATION LEVEL ${isolation(options.isolationLevel)}`;
      if (options.readOnly === true) sql += ' READ ONLY';
      return [sql];
    },
    commit: (): string => 'COMMIT',
    rollback: (): string => 'ROLLBACK',
    savepoint: (name: string): string => `SAVEPOINT ${checkIdentifier(name)}`,
    releaseSavepoint: (name: string): string => `RELEASE SAVEPOINT ${checkIdentifier(name)}`,
    rollbackToSavepoint: (name: string): string => `ROLLBACK TO SAVEPOINT ${checkIdentifier(name)}`,
    // SET TRANSACTION READ ONLY survives RELEASE and cannot be switched back inside a subtransaction; only
    // ROLLBACK TO undoes it, which is harmless for a step that changed nothing.
    readOnlyStep: (nested: boolean) =>
      nested ? { apply: ['SET TRANSACTION READ ONLY'], restore: [], undoByRollbackTo: true } : undefined,
    timeouts: postgresTimeouts,
    sessionTimeouts: (settings: TimeoutSettings): readonly string[] =>
      (['lockTimeoutMs', 'statementTimeoutMs'] as const).map((key) => {
        const ms = checkTimeoutMs(key, settings[key]);
        return ms === undefined ? `RESET ${settingNames[key]}` : `SET ${settingNames[key]} = ${ms}`;
      }),
    // The id carries the server's history (system and timeline): see postgres-commit-lookup.ts.
    transactionIdQuery: postgresTransactionIdQuery,
    assignTransactionIdQuery: postgresAssignTransactionIdQuery,
    transactionHistory: postgresTransactionHistory,
  });
}

function postgresTimeouts(settings: TimeoutSettings, slot: number, scope: SettingScope): SettingStatements {
  const apply: string[] = [];
  const restore: string[] = [];
  const local = scope === 'session' ? 'false' : 'true';
  for (const key of ['lockTimeoutMs', 'statementTimeoutMs'] as const) {
    const ms = checkTimeoutMs(key, settings[key]);
    if (ms === undefined) continue;
    const name = settingNames[key];
    if (scope !== 'transaction') {
      const saved = `dbop.${name}_${slot}`;
      apply.push(`SELECT set_config('${saved}', current_setting('${name}'), ${local})`);
      restore.push(`SELECT set_config('${name}', current_setting('${saved}'), ${local})`);
      if (scope === 'session') restore.push(`RESET "${saved}"`);
    }
    // SET is a utility statement: no planning and no result row, measurably cheaper than SELECT set_config.
    apply.push(`SET ${scope === 'session' ? 'SESSION' : 'LOCAL'} ${name} = ${ms}`);
  }
  return { apply, restore };
}

function isolation(level: IsolationLevel): string {
  switch (level) {
    case 'read uncommitted':
      return 'READ UNCOMMITTED';
    case 'read committed':
      return 'READ COMMITTED';
    case 'repeatable read':
      return 'REPEATABLE READ';
    case 'serializable':
      return 'SERIALIZABLE';
    default:
      throw new TypeError(`Expected \`isolationLevel\` to be a known isolation level, got ${String(level)}`);
  }
}

/** The isolation level keyword, shared with the MySQL builders. */
export { isolation as isolationKeyword };
