import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe } from 'vitest';
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
