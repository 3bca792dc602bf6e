import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { classify } from '../../../src/dialects/classify.js';
import { thrown } from './drivers.js';

describe('classify: errors better-sqlite3 really raised', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dbop-classify-'));
  let files = 0;

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Two connections to a fresh file (busy timeout 0: SQLite answers BUSY at once); both always closed. */
  function withTwo(wal: boolean, fn: (a: Database.Database, b: Database.Database) => void): void {
    const file = join(dir, `db${files++}.sqlite`);
    const a = new Database(file, { timeout: 0 });
    const b = new Database(file, { timeout: 0 });
    try {
      if (wal) a.pragma('journal_mode = WAL');
      a.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL); INSERT INTO t VALUES (1, 0)');
      fn(a, b);
    } finally {
      for (const db of [a, b]) {
        if (db.inTransaction) db.exec('ROLLBACK');
        db.close();
      }
    }
  }

  it('SQLITE_BUSY between two connections: lock-timeout at statement scope', () => {
    withTwo(false, (a, b) => {
      a.exec('BEGIN IMMEDIATE');
      const error = thrown(() => b.exec('UPDATE t SET v = 1'));
      expect(classify(error)).toMatchObject({
        kind: 'lock-timeout',
        scope: 'statement',
        retryable: true,
        code: 'SQLITE_BUSY',
      });
    });
  });

  it('SQLITE_BUSY from a deferred read->write upgrade: transaction scope with the session hint', () => {
    withTwo(false, (a, b) => {
      b.exec('BEGIN');
      b.prepare('SELECT * FROM t').all();
      a.exec('BEGIN IMMEDIATE');
      a.exec('UPDATE t SET v = 1');
      const error = thrown(() => b.exec('UPDATE t SET v = 2'));
      // Same code as a plain BUSY: only the session knows this transaction began DEFERRED and read first.
      expect(classify(error)).toMatchObject({ code: 'SQLITE_BUSY', scope: 'statement' });
      expect(classify(error, { deferredUpgrade: true })).toMatchObject({
        kind: 'lock-timeout',
        scope: 'transaction',
      });
      // The writer cannot commit while the reader keeps its snapshot: waiting alone never ends this.
      expect(classify(thrown(() => a.exec('COMMIT')))).toMatchObject({
        code: 'SQLITE_BUSY',
        retryable: true,
      });
    });
  });

  it('SQLITE_BUSY_SNAPSHOT in WAL: serialization at transaction scope', () => {
    withTwo(true, (a, b) => {
      b.exec('BEGIN');
      b.prepare('SELECT * FROM t').all();
      a.exec('UPDATE t SET v = 1');
      const error = thrown(() => b.exec('UPDATE t SET v = 2'));
      expect(classify(error)).toMatchObject({
        kind: 'serialization',
        scope: 'transaction',
        retryable: true,
        code: 'SQLITE_BUSY_SNAPSHOT',
      });
    });
  });

  it('SQLITE_LOCKED inside one connection (DROP TABLE under an open cursor): not retryable', () => {
    const db = new Database(':memory:');
    try {
      db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1), (2)');
      db.unsafeMode(true); // lets a statement run while a cursor is open, as other SQLite drivers allow
      const cursor = db.prepare('SELECT * FROM t').iterate();
      cursor.next();
      const error = thrown(() => db.exec('DROP TABLE t'));
      cursor.return?.();
      expect(classify(error)).toMatchObject({
        kind: 'unknown',
        retryable: false,
        code: 'SQLITE_LOCKED',
        backend: 'sqlite',
      });
    } finally {
      db.close();
    }
  });
});
