import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DbOpRunner, Transaction } from '../../../src/runner/index.js';
import { sqliteSession } from '../../../src/sessions/better-sqlite3/index.js';

describe('Transaction and session.begin on SQLite (better-sqlite3, rollback journal)', () => {
  let dir: string;
  let a: Database.Database;
  let b: Database.Database;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dbop-sqlite-tx-'));
    a = new Database(join(dir, 'db.sqlite'));
    // Rollback journal: a reader's SHARED lock makes the writer's COMMIT fail with SQLITE_BUSY.
    a.pragma('journal_mode = DELETE');
    a.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
    a.pragma('busy_timeout = 0');
    b = new Database(join(dir, 'db.sqlite'));
    b.pragma('busy_timeout = 0');
  });
  afterEach(() => {
    a.close();
    b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a COMMIT that fails with BUSY leaves the transaction to await using, which rolls it back', async () => {
    // lockWaitMs 0: the COMMIT is not waited for, SQLite's answer comes straight back.
    const s = sqliteSession(b, { lockWaitMs: 0 });
    a.exec('BEGIN');
    a.prepare('SELECT * FROM t').all();
    let code: unknown;
    try {
      await using tx = await Transaction.begin(s);
      await tx.session.query('INSERT INTO t VALUES (1)');
      await tx.commit().catch((e: { code?: unknown }) => {
        code = e.code;
        expect(tx.done).toBe(false);
        throw e;
      });
    } catch {
      // expected: the BUSY commit
    }
    expect(code).toBe('SQLITE_BUSY');
    expect(b.inTransaction).toBe(false);
    a.exec('COMMIT');
    expect(b.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 0 });
  });

  it('commit() may be retried after BUSY once the reader is gone', async () => {
    const s = sqliteSession(b, { lockWaitMs: 0 });
    a.exec('BEGIN');
    a.prepare('SELECT * FROM t').all();
    {
      await using tx = await Transaction.begin(s);
      await tx.session.query('INSERT INTO t VALUES (2)');
      await expect(tx.commit()).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
      a.exec('COMMIT');
      await tx.commit();
      expect(tx.done).toBe(true);
    }
    expect(a.prepare('SELECT id FROM t').all()).toEqual([{ id: 2 }]);
  });

  it("a COMMIT that a reader's SHARED lock holds back waits for it without blocking, and commits once", async () => {
    // `a` stands for another process reading the file; its read ends from a timer of this event loop.
    const s = sqliteSession(b);
    a.exec('BEGIN');
    a.prepare('SELECT * FROM t').all();
    let released = false;
    const reader = new Promise<void>((resolve) =>
      setTimeout(() => {
        a.exec('COMMIT');
        released = true;
        resolve();
      }, 40),
    );
    await s.begin();
    await s.query('INSERT INTO t VALUES (6)');
    await s.commit();
    await reader;
    expect(released).toBe(true);
    expect(b.inTransaction).toBe(false);
    expect(a.prepare('SELECT id FROM t').all()).toEqual([{ id: 6 }]);
  });

  it('a COMMIT still held back after lockWaitMs fails with SQLITE_BUSY, its transaction open to roll back', async () => {
    const s = sqliteSession(b, { lockWaitMs: 30 });
    a.exec('BEGIN');
    a.prepare('SELECT * FROM t').all();
    await s.begin();
    await s.query('INSERT INTO t VALUES (7)');
    await expect(s.commit()).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    expect(s.inTransaction()).toBe(true);
    await s.rollback();
    a.exec('COMMIT');
    expect(a.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 0 });
  });

  it('Transaction.begin({ readOnly: true }) refuses writes; query_only is back after commit and rollback', async () => {
    const s = sqliteSession(b);
    for (const end of ['commit', 'rollback'] as const) {
      {
        await using tx = await Transaction.begin(s, { readOnly: true });
        await expect(tx.session.query('INSERT INTO t VALUES (3)')).rejects.toMatchObject({
          code: 'SQLITE_READONLY',
        });
        expect(await tx.session.query('SELECT count(*) AS n FROM t')).toMatchObject({ rows: [{ n: 0 }] });
        await tx[end]();
      }
      expect(b.pragma('query_only', { simple: true })).toBe(0);
    }
    await s.begin({ readOnly: true });
    await expect(s.query('INSERT INTO t VALUES (4)')).rejects.toMatchObject({ code: 'SQLITE_READONLY' });
    await s.rollback();
    await s.query('INSERT INTO t VALUES (5)');
    expect(b.prepare('SELECT id FROM t').all()).toEqual([{ id: 5 }]);
  });

  it('a connection that is query_only by its own choice stays so after a read-only transaction', async () => {
    b.pragma('query_only = 1');
    const s = sqliteSession(b);
    {
      await using tx = await Transaction.begin(s, { readOnly: true });
      await tx.commit();
    }
    expect(b.pragma('query_only', { simple: true })).toBe(1);
  });

  it('Transaction.begin validates its options (a rejected promise, the session untouched)', async () => {
    const s = sqliteSession(b);
    await expect(Transaction.begin(s, { readOnly: 'yes' as never })).rejects.toThrow(
      'Expected `readOnly` to be a boolean, got "yes"',
    );
    await expect(Transaction.begin(s, { isolationLevel: 'snapshot' as never })).rejects.toThrow(
      /Expected `isolationLevel` to be one of/,
    );
    await expect(Transaction.begin(s, { readonly: true } as never)).rejects.toThrow(
      'Unknown option `readonly` of Transaction.begin()',
    );
    expect(b.inTransaction).toBe(false);
  });
});

describe('a transaction SQLite rolled back on its own (better-sqlite3)', () => {
  it('ON CONFLICT ROLLBACK inside runner.transaction: later statements do not autocommit, the call rejects', async () => {
    const db = new Database(':memory:');
    try {
      db.exec('CREATE TABLE u (email TEXT UNIQUE ON CONFLICT ROLLBACK); CREATE TABLE ledger (note TEXT)');
      db.exec("INSERT INTO u VALUES ('taken')");
      const runner = new DbOpRunner({ maxRetries: 0 });
      const seen: unknown[] = [];
      const outcome = await runner
        .transaction(sqliteSession(db), async (s) => {
          await s.query("INSERT INTO ledger VALUES ('A')");
          await s.query("INSERT INTO u VALUES ('taken')").catch((e: unknown) => seen.push(e));
          await s.query("INSERT INTO ledger VALUES ('B')").catch((e: unknown) => seen.push(e));
        })
        .then(
          () => 'resolved',
          (error: { code?: string }) => error.code,
        );
      expect(seen.map((e) => (e as { code?: string }).code)).toEqual([
        'SQLITE_CONSTRAINT_UNIQUE',
        'SQLITE_CONSTRAINT_UNIQUE',
      ]);
      expect(outcome).toBe('SQLITE_CONSTRAINT_UNIQUE');
      expect(db.prepare('SELECT note FROM ledger').all()).toEqual([]);
      expect(db.inTransaction).toBe(false);
    } finally {
      db.close();
    }
  });
});
