import { describe, expect, it } from 'vitest';
import { clampTimeouts } from '../../../src/core/apply-timeouts.js';
import { cockroachSql } from '../../../src/dialects/cockroach/cockroach-sql.js';
import { mariadbSql } from '../../../src/dialects/mariadb/mariadb-sql.js';
import { mysqlSql } from '../../../src/dialects/mysql/mysql-sql.js';
import { postgresSql } from '../../../src/dialects/postgres/postgres-sql.js';
import { sqliteSql } from '../../../src/dialects/sqlite/sqlite-sql.js';

describe('dialect SQL builders', () => {
  it('Postgres: owned transactions need no restore; savepoints save the previous value on the server', () => {
    const sql = postgresSql();
    expect(sql.begin({ isolationLevel: 'serializable', readOnly: true })).toEqual([
      'BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY',
    ]);
    expect(sql.timeouts({ lockTimeoutMs: 50 }, 1, 'transaction')).toEqual({
      apply: ['SET LOCAL lock_timeout = 50'],
      restore: [],
    });
    const nested = sql.timeouts({ statementTimeoutMs: 200 }, 4, 'savepoint');
    expect(nested.apply).toEqual([
      "SELECT set_config('dbop.statement_timeout_4', current_setting('statement_timeout'), true)",
      'SET LOCAL statement_timeout = 200',
    ]);
    expect(nested.restore).toEqual([
      "SELECT set_config('statement_timeout', current_setting('dbop.statement_timeout_4'), true)",
    ]);
    expect(sql.readOnlyStep(true)?.undoByRollbackTo).toBe(true);
    expect(sql.transactionIdQuery).toContain('txid_current_if_assigned()');
    expect(sql.assignTransactionIdQuery).toContain('txid_current()');
  });

  it('MariaDB and MySQL: one SET saves and applies, one SET restores and clears the user variables', () => {
    expect(mariadbSql().timeouts({ lockTimeoutMs: 1500, statementTimeoutMs: 250 }, 2, 'savepoint')).toEqual({
      apply: [
        'SET @dbop_innodb_lock_wait_timeout_2 = @@SESSION.innodb_lock_wait_timeout, @dbop_max_statement_time_2 = @@SESSION.max_statement_time, SESSION innodb_lock_wait_timeout = 2, SESSION max_statement_time = 0.250',
      ],
      restore: [
        'SET SESSION innodb_lock_wait_timeout = @dbop_innodb_lock_wait_timeout_2, @dbop_innodb_lock_wait_timeout_2 = NULL, SESSION max_statement_time = @dbop_max_statement_time_2, @dbop_max_statement_time_2 = NULL',
      ],
    });
    expect(mysqlSql().timeouts({ statementTimeoutMs: 250 }, 1, 'transaction').apply[0]).toContain(
      'SESSION max_execution_time = 250',
    );
    expect(mysqlSql().begin({ isolationLevel: 'read committed', readOnly: true })).toEqual([
      'SET TRANSACTION ISOLATION LEVEL READ COMMITTED',
      'START TRANSACTION READ ONLY',
    ]);
    expect(mysqlSql().readOnlyStep(true)).toBeUndefined();
  });

  it('SQLite: BEGIN IMMEDIATE for writers, a capped busy timeout restored to the base, no isolation levels', () => {
    const sql = sqliteSql({ baseBusyTimeoutMs: 7, maxBusyTimeoutMs: 20 });
    expect(sql.begin({})).toEqual(['BEGIN IMMEDIATE']);
    expect(sql.begin({ readOnly: true })).toEqual(['BEGIN DEFERRED']);
    expect(sql.timeouts({ lockTimeoutMs: 5000 }, 1, 'savepoint')).toEqual({
      apply: ['PRAGMA busy_timeout = 20'],
      restore: ['PRAGMA busy_timeout = 7'],
    });
    expect(() => sql.begin({ isolationLevel: 'read committed' })).toThrow(TypeError);
  });

  it('never interpolates an unchecked value', () => {
    for (const sql of [postgresSql(), mariadbSql(), mysqlSql(), sqliteSql(), cockroachSql()]) {
      expect(() =>
        sql.timeouts({ lockTimeoutMs: '1; DROP TABLE x' as unknown as number }, 1, 'savepoint'),
      ).toThrow(
        'Expected `lockTimeoutMs` to be an integer of milliseconds from 0 (no timeout) to 2147483647, got "1; DROP TABLE x"',
      );
      expect(() => sql.timeouts({ lockTimeoutMs: 1.5 }, 1, 'savepoint')).toThrow(TypeError);
      expect(() => sql.savepoint('x; COMMIT')).toThrow(TypeError);
      expect(() => sql.sessionTimeouts({ statementTimeoutMs: -1 })).toThrow(TypeError);
    }
    expect(() => mariadbSql().commitMarker?.insert("0'); DROP TABLE x; --")).toThrow(
      'Expected a commit marker id of 32 hex digits',
    );
  });

  it('session settings: set once per owned connection, an undefined value goes back to the server default', () => {
    expect(postgresSql().sessionTimeouts({ lockTimeoutMs: 10_000 })).toEqual([
      'SET lock_timeout = 10000',
      'RESET statement_timeout',
    ]);
    expect(mariadbSql().sessionTimeouts({ lockTimeoutMs: 1500, statementTimeoutMs: 250 })).toEqual([
      'SET SESSION innodb_lock_wait_timeout = 2, SESSION max_statement_time = 0.250',
    ]);
    expect(mysqlSql().sessionTimeouts({})).toEqual([
      'SET SESSION innodb_lock_wait_timeout = DEFAULT, SESSION max_execution_time = DEFAULT',
    ]);
    expect(sqliteSql().sessionTimeouts({ lockTimeoutMs: 10_000 })).toEqual(['PRAGMA busy_timeout = 20']);
  });

  it('clamps step timeouts to the attempt: lock to what is left, statement to a backstop just past it', () => {
    expect(clampTimeouts({ lockTimeoutMs: 10_000 }, Number.POSITIVE_INFINITY)).toEqual({
      lockTimeoutMs: 10_000,
    });
    expect(clampTimeouts({ lockTimeoutMs: 10_000, statementTimeoutMs: 50 }, 200.4)).toEqual({
      lockTimeoutMs: 201,
      statementTimeoutMs: 50,
    });
    expect(clampTimeouts({}, 200)).toEqual({ lockTimeoutMs: undefined, statementTimeoutMs: 300 });
  });

  it('0 is "no timeout", mapped per dialect; the cap passes, one more does not', () => {
    expect(
      postgresSql().timeouts({ lockTimeoutMs: 0, statementTimeoutMs: 0 }, 0, 'transaction').apply,
    ).toEqual(['SET LOCAL lock_timeout = 0', 'SET LOCAL statement_timeout = 0']);
    // innodb_lock_wait_timeout = 0 fails a lock wait at once: "none" is the largest value instead.
    expect(
      mariadbSql().timeouts({ lockTimeoutMs: 0, statementTimeoutMs: 0 }, 1, 'transaction').apply,
    ).toEqual([
      'SET @dbop_innodb_lock_wait_timeout_1 = @@SESSION.innodb_lock_wait_timeout, @dbop_max_statement_time_1 = @@SESSION.max_statement_time, SESSION innodb_lock_wait_timeout = 100000000, SESSION max_statement_time = 0.000',
    ]);
    expect(mysqlSql().timeouts({ statementTimeoutMs: 0 }, 1, 'transaction').apply).toEqual([
      'SET @dbop_max_execution_time_1 = @@SESSION.max_execution_time, SESSION max_execution_time = 0',
    ]);
    expect(
      sqliteSql({ maxBusyTimeoutMs: 25 }).timeouts({ lockTimeoutMs: 0 }, 0, 'transaction').apply,
    ).toEqual(['PRAGMA busy_timeout = 25']);
    expect(postgresSql().timeouts({ lockTimeoutMs: 2 ** 31 - 1 }, 0, 'transaction').apply).toEqual([
      'SET LOCAL lock_timeout = 2147483647',
    ]);
    for (const value of [2 ** 31, 1e12, -1, Number.NaN, null]) {
      expect(() => postgresSql().timeouts({ lockTimeoutMs: value as number }, 0, 'transaction')).toThrow(
        /^Expected `lockTimeoutMs` to be an integer of milliseconds from 0 \(no timeout\) to 2147483647, got /,
      );
    }
  });

  it("clamping reads 0 as no timeout: the attempt's remaining time becomes the limit, never past the cap", () => {
    expect(clampTimeouts({ lockTimeoutMs: 0, statementTimeoutMs: 0 }, 500)).toEqual({
      lockTimeoutMs: 500,
      statementTimeoutMs: 600,
    });
    expect(clampTimeouts({ lockTimeoutMs: 0 }, Number.POSITIVE_INFINITY)).toEqual({ lockTimeoutMs: 0 });
    expect(clampTimeouts({ lockTimeoutMs: 0 }, 2 ** 31 - 1)).toEqual({
      lockTimeoutMs: 2 ** 31 - 1,
      statementTimeoutMs: 2 ** 31 - 1,
    });
  });
});
