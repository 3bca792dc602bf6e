import type { Backend } from '../../core/classification.js';
import type {
  CommitMarkerSql,
  DialectSql,
  SettingStatements,
  TimeoutSettings,
} from '../../core/dialect-sql.js';
import { checkIdentifier, checkMarkerId, checkTimeoutMs } from '../../core/dialect-sql.js';
import type { IsolationLevel } from '../../core/session.js';
import { isolationKeyword } from '../postgres/postgres-sql.js';

/** innodb_lock_wait_timeout's maximum on MariaDB 10.x/11.x (MySQL 8 allows 1073741824): about 3 years. */
const noLockTimeoutSeconds = '100000000';

/** How one flavor turns a statement timeout (ms) into a session variable assignment. */
export interface StatementTimeoutVariable {
  readonly name: string;
  format(ms: number): string;
}

/**
 * MySQL-family scope SQL. Settings are SESSION variables that ROLLBACK TO does not undo, so the previous
 * values are saved into user variables in the same SET and put back (and the user variables cleared) after.
 */
export function mysqlFamilySql(dialect: Backend, statementTimeout: StatementTimeoutVariable): DialectSql {
  return Object.freeze({
    dialect,
    rollbackToUndoesSettings: false,
    begin(options: {
      readonly readOnly?: boolean;
      readonly isolationLevel?: IsolationLevel;
    }): readonly string[] {
      const statements: string[] = [];
      // Applies to the next transaction only, so nothing leaks to the pooled connection.
      if (options.isolationLevel !== undefined) {
        statements.push(`SET TRANSACTION ISOLATION LEVEL ${isolationKeyword(options.isolationLevel)}`);
      }
      statements.push(options.readOnly === true ? 'START TRANSACTION READ ONLY' : 'START TRANSACTION');
      return statements;
    },
    commit: (): string => 'COMMIT',
    rollback: (): string => 'ROLLBACK',
    savepoint: (name: string): string => `SAVEPOINT ${checkIdentifier(name)}`,
    releaseSavepoint: (name: string): string => `RELEASE SAVEPOINT ${checkIdentifier(name)}`,
    rollbackToSavepoint: (name: string): string => `ROLLBACK TO SAVEPOINT ${checkIdentifier(name)}`,
    commitMarker,
    // READ ONLY exists only at START TRANSACTION: a nested step cannot be made read-only without leaking.
    readOnlyStep: () => undefined,
    timeouts(settings: TimeoutSettings, slot: number): SettingStatements {
      const saves: string[] = [];
      const sets: string[] = [];
      const restores: string[] = [];
      const add = (variable: string, value: string): void => {
        const saved = `@dbop_${variable}_${slot}`;
        saves.push(`${saved} = @@SESSION.${variable}`);
        sets.push(`SESSION ${variable} = ${value}`);
        restores.push(`SESSION ${variable} = ${saved}`, `${saved} = NULL`);
      };
      const lock = checkTimeoutMs('lockTimeoutMs', settings.lockTimeoutMs);
      // innodb_lock_wait_timeout is whole seconds: round up so the wait is never shorter than asked. Its 0
      // fails a lock wait at once, so "no timeout" is the largest value MariaDB and MySQL both take.
      if (lock !== undefined)
        add('innodb_lock_wait_timeout', lock === 0 ? noLockTimeoutSeconds : String(Math.ceil(lock / 1000)));
      const statement = checkTimeoutMs('statementTimeoutMs', settings.statementTimeoutMs);
      if (statement !== undefined) add(statementTimeout.name, statementTimeout.format(statement));
      if (sets.length === 0) return { apply: [], restore: [] };
      return { apply: [`SET ${[...saves, ...sets].join(', ')}`], restore: [`SET ${restores.join(', ')}`] };
    },
    sessionTimeouts(settings: TimeoutSettings): readonly string[] {
      const lock = checkTimeoutMs('lockTimeoutMs', settings.lockTimeoutMs);
      const statement = checkTimeoutMs('statementTimeoutMs', settings.statementTimeoutMs);
      const lockValue =
        lock === undefined ? 'DEFAULT' : lock === 0 ? noLockTimeoutSeconds : String(Math.ceil(lock / 1000));
      const statementValue = statement === undefined ? 'DEFAULT' : statementTimeout.format(statement);
      return [
        `SET SESSION innodb_lock_wait_timeout = ${lockValue}, SESSION ${statementTimeout.name} = ${statementValue}`,
      ];
    },
  });
}

const markerTable = 'dbop_commit_marker';

const commitMarker: CommitMarkerSql = Object.freeze({
  create: `CREATE TABLE IF NOT EXISTS ${markerTable} (id BINARY(16) NOT NULL PRIMARY KEY, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, KEY (created_at)) ENGINE=InnoDB`,
  insert: (id: string): string => `INSERT INTO ${markerTable} (id) VALUES (X'${checkMarkerId(id)}')`,
  lookup: (id: string): string =>
    `SELECT COUNT(*) AS found FROM ${markerTable} WHERE id = X'${checkMarkerId(id)}' LOCK IN SHARE MODE`,
  prune: `DELETE FROM ${markerTable} WHERE created_at < NOW() - INTERVAL 1 HOUR LIMIT 1000`,
});

/** MySQL scope SQL: innodb_lock_wait_timeout, and max_execution_time (ms, SELECT only; 0 is none) for statements. */
export function mysqlSql(): DialectSql {
  return mysqlFamilySql('mysql', { name: 'max_execution_time', format: (ms) => String(ms) });
}
