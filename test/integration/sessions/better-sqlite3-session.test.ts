import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { sqliteSession } from '../../../src/sessions/better-sqlite3/index.js';
import { sessionContract } from './session-contract.js';

describe('sqliteSession contract (better-sqlite3, file database)', () => {
  sessionContract(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbop-sqlite-'));
    const db = new Database(join(dir, 'contract.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 7');
    return {
      session: sqliteSession(db),
      placeholder: () => '?',
      lockTimeoutQuery: 'PRAGMA busy_timeout',
      outerLockTimeoutSql: 'SELECT 1',
      nestedReadOnly: true,
      close: async () => {
        db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
});

describe('sqliteSession keeps prepared statements', () => {
  it('a kept statement sees the schema as it is now', async () => {
    const db = new Database(':memory:');
    const session = sqliteSession(db);
    try {
      await session.query('CREATE TABLE kept (a INT)');
      await session.query('INSERT INTO kept VALUES (?)', [1]);
      expect((await session.query('SELECT * FROM kept')).rows).toEqual([{ a: 1 }]);
      await session.query('ALTER TABLE kept ADD COLUMN b INT DEFAULT 7');
      expect((await session.query('SELECT * FROM kept')).rows).toEqual([{ a: 1, b: 7 }]);
      await session.query('DROP TABLE kept');
      await session.query('CREATE TABLE kept (x TEXT)');
      await session.query('INSERT INTO kept VALUES (?)', ['y']);
      expect((await session.query('SELECT * FROM kept')).rows).toEqual([{ x: 'y' }]);
      // Many different statements: the oldest are dropped, and each still runs.
      for (let i = 0; i < 150; i++) {
        expect((await session.query(`SELECT ${i} AS n`)).rows).toEqual([{ n: i }]);
      }
      expect((await session.query('SELECT 0 AS n')).rows).toEqual([{ n: 0 }]);
    } finally {
      db.close();
    }
  });
});
