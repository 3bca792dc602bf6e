import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { classify } from '../../../src/dialects/classify.js';

function sqliteError(code: string, message = 'database is locked'): Error {
  return Object.assign(new Error(message), { name: 'SqliteError', code });
}

/** node:sqlite's shape (Node 22.5+): code 'ERR_SQLITE_ERROR', numeric extended `errcode`, `errstr`. */
function nodeSqliteError(errcode: number, errstr: string): Error {
  return Object.assign(new Error(errstr), { code: 'ERR_SQLITE_ERROR', errcode, errstr });
}

describe('classify: SQLite', () => {
  it.each([
    ['SQLITE_BUSY', 'lock-timeout', 'statement', true],
    ['SQLITE_BUSY_RECOVERY', 'lock-timeout', 'statement', true],
    ['SQLITE_BUSY_TIMEOUT', 'lock-timeout', 'statement', true],
    ['SQLITE_BUSY_SNAPSHOT', 'serialization', 'transaction', true],
    ['SQLITE_LOCKED', 'unknown', 'none', false],
    ['SQLITE_READONLY', 'read-only', 'none', false],
    ['SQLITE_CONSTRAINT_UNIQUE', 'constraint', 'none', false],
    ['SQLITE_ERROR', 'syntax', 'none', false],
  ] as const)('better-sqlite3 %s is %s at %s scope', (code, kind, scope, retryable) => {
    expect(classify(sqliteError(code))).toMatchObject({ kind, scope, retryable, backend: 'sqlite', code });
  });

  it.each([
    [5, 'SQLITE_BUSY', 'lock-timeout'],
    [517, 'SQLITE_BUSY_SNAPSHOT', 'serialization'],
    [773, 'SQLITE_BUSY_TIMEOUT', 'lock-timeout'],
    [6, 'SQLITE_LOCKED', 'unknown'],
    [2067, '2067', 'constraint'], // SQLITE_CONSTRAINT_UNIQUE: primary code in the low byte
  ] as const)('node:sqlite errcode %i is %s (%s)', (errcode, code, kind) => {
    expect(classify(nodeSqliteError(errcode, 'x'))).toMatchObject({ kind, code, backend: 'sqlite' });
  });

  it('reads node-sqlite3 numeric errno as a SQLite code when the dialect says sqlite', () => {
    const e = Object.assign(new Error('SQLITE_BUSY: database is locked'), { errno: 5 });
    expect(classify(e, { dialect: 'sqlite' })).toMatchObject({ kind: 'lock-timeout', code: 'SQLITE_BUSY' });
  });

  it('gives a BUSY from a deferred read->write upgrade transaction scope when the session says so', () => {
    const busy = sqliteError('SQLITE_BUSY');
    expect(classify(busy).scope).toBe('statement');
    expect(classify(busy, { deferredUpgrade: true })).toMatchObject({
      kind: 'lock-timeout',
      scope: 'transaction',
    });
    expect(classify(sqliteError('SQLITE_CONSTRAINT'), { deferredUpgrade: true }).scope).toBe('none');
  });

  it('classifies an error better-sqlite3 really threw', () => {
    const db = new Database(':memory:');
    try {
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
      db.exec('INSERT INTO t VALUES (1)');
      let thrown: unknown;
      try {
        db.exec('INSERT INTO t VALUES (1)');
      } catch (error) {
        thrown = error;
      }
      expect(classify(thrown)).toMatchObject({ kind: 'constraint', code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
    } finally {
      db.close();
    }
  });
});
