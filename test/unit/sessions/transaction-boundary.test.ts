import { describe, expect, it } from 'vitest';
import { boundaryViolation } from '../../../src/sessions/shared/transaction-boundary.js';

const refused = (sql: string, dialect: 'postgres' | 'mariadb' | 'mysql' | 'sqlite') =>
  boundaryViolation(sql, dialect)?.code === 'DBOP_TRANSACTION_BOUNDARY';

describe('boundaryViolation', () => {
  // Each of these committed dbop's transaction on the private test servers (Knex's trx.raw), before.
  it.each([
    ['mariadb', '/*! COMMIT */'],
    ['mariadb', '/*M! COMMIT */'],
    ['mysql', '/*!50000 COMMIT */'],
    ['mariadb', "SET PASSWORD = PASSWORD('x')"],
    ['postgres', ';COMMIT'],
    ['postgres', '/* /* nested */ */ COMMIT'],
    ['postgres', 'SELECT 1; COMMIT'],
    ['mariadb', 'SELECT 1;\n-- done\ncommit'],
    ['postgres', "SELECT 'a;b', $q$ ; $q$; END"],
    ['sqlite', 'SELECT 1; COMMIT'],
    ['postgres', '\n  commit'],
    ['sqlite', 'END TRANSACTION'],
    ['mariadb', 'CREATE TABLE t (id int)'],
    ['mysql', 'DROP TABLE temporary'],
    ['mariadb', 'BEGIN NOT ATOMIC SELECT 1; COMMIT; END'],
    ['mariadb', 'BEGIN'],
    ['postgres', "SELECT 'x', $1::text, a$b FROM t; ROLLBACK"],
    ['mariadb', "SELECT 'it''s', `a;b` # ; x\n; COMMIT"],
  ] as const)('%s: %s ends the transaction: refused', (dialect, sql) => {
    expect(refused(sql, dialect)).toBe(true);
  });

  it.each([
    ['mariadb', '@@session.autocommit', 'SET @@session.autocommit = 0'],
    ['mariadb', 'a list', 'SET sql_mode = DEFAULT, autocommit = 0'],
  ] as const)('%s: autocommit set through %s: refused', (dialect, _, sql) => {
    expect(refused(sql, dialect)).toBe(true);
  });

  it.each([
    ['postgres', "SELECT 'COMMIT; x'"],
    ['postgres', 'UPDATE t SET n = n + 1 WHERE id = $1'],
    ['postgres', "SELECT 'x' - 1 FROM t WHERE s = $x$; COMMIT$x$"],
    ['mariadb', 'SELECT `commit` FROM t'],
    ['postgres', 'SELECT 1 /* ; COMMIT */'],
    ['postgres', 'SELECT $body$ ; COMMIT $body$'],
    ['postgres', "SELECT E'\\'; COMMIT'"],
    ['postgres', 'SELECT 1 -- ; COMMIT'],
    ['postgres', 'SELECT "x;commit" FROM t'],
    ['postgres', 'ROLLBACK TO SAVEPOINT a'],
    ['postgres', 'ROLLBACK TRANSACTION TO SAVEPOINT a'],
    ['mariadb', "SELECT 'it\\'s; COMMIT'"],
    ['mariadb', 'SELECT `a;commit` FROM t # ; COMMIT'],
    ['mariadb', 'SAVEPOINT a; RELEASE SAVEPOINT a'],
    ['postgres', 'SELECT 1;'],
    ['postgres', 'INSERT INTO t (sql) VALUES ($1)'],
    ['mysql', 'CREATE TEMPORARY TABLE tmp (x INT)'],
    ['mariadb', 'DROP TEMPORARY TABLE IF EXISTS tmp'],
    ['mariadb', 'BEGIN NOT ATOMIC SELECT 1; END'],
  ] as const)('%s: %s ends nothing: allowed', (dialect, sql) => {
    expect(refused(sql, dialect)).toBe(false);
  });
});
