import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPlainRead } from '../../../src/database/read-statement.js';

describe('isPlainRead', () => {
  it.each([
    'SELECT 1',
    '  select * from player where id = $1',
    '-- a comment\nSELECT now()',
    '/* hint */ SELECT count(*) FROM t;',
    '(SELECT 1) UNION (SELECT 2)',
    'WITH x AS (SELECT 1) SELECT * FROM x',
    'SHOW server_version',
    'VALUES (1), (2)',
    'EXPLAIN SELECT 1',
    'SELECT last_insert_id()',
  ])('reads: %s', (sql) => {
    expect(isPlainRead(sql)).toBe(true);
  });

  it.each([
    'UPDATE t SET n = 1',
    'INSERT INTO t VALUES (1)',
    'SELECT * INTO new_table FROM t',
    'SELECT * FROM t FOR UPDATE',
    'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d',
    'EXPLAIN ANALYZE DELETE FROM t',
    'SELECT 1; DELETE FROM t',
    'CALL do_things()',
    'DO $$ BEGIN END $$',
    '',
    '   ',
    '-- only a comment',
    ') SELECT 1',
    'SELECT * FROM t LOCK IN SHARE MODE',
  ])('may write: %s', (sql) => {
    expect(isPlainRead(sql)).toBe(false);
  });

  it('a write word anywhere after the first makes it a possible write', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('insert', 'update', 'delete', 'merge', 'into', 'call', 'set'),
        fc.string(),
        (word, tail) => !isPlainRead(`SELECT a, ${word} ${tail}`),
      ),
    );
  });

  it('is linear: a megabyte of SQL or of semicolons is judged at once', () => {
    const started = performance.now();
    isPlainRead(`SELECT ${'a, '.repeat(300_000)}b`);
    isPlainRead(`SELECT 1${';'.repeat(1_000_000)}`);
    isPlainRead(`SELECT 1${'; '.repeat(500_000)}`);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
