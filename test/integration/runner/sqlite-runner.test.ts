import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DbOpRunner } from '../../../src/runner/index.js';
import { sqliteSession } from '../../../src/sessions/better-sqlite3/index.js';
import { recordingLogger } from './runner-support.js';

// These tests are about the runner's retries of SQLITE_BUSY: the session answers it at once instead of
// waiting for the lock (sqlite-lock-wait.test.ts covers the wait).
const noLockWait = { lockWaitMs: 0 };

describe('DbOpRunner on SQLite (better-sqlite3, two connections to one file)', () => {
  let dir: string;
  let a: Database.Database;
  let b: Database.Database;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dbop-sqlite-runner-'));
    a = new Database(join(dir, 'db.sqlite'));
    a.pragma('journal_mode = WAL');
    a.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL); INSERT INTO t VALUES (1, 0)');
    b = new Database(join(dir, 'db.sqlite'));
    b.pragma('busy_timeout = 0');
  });
  afterEach(() => {
    a.close();
    b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('SQLITE_BUSY from another writer is retried with async backoff, not a blocking busy wait', async () => {
    a.exec('BEGIN IMMEDIATE; UPDATE t SET v = 100 WHERE id = 1');
    let releasedAt = 0;
    setTimeout(() => {
      a.exec('COMMIT');
      releasedAt = Date.now();
    }, 250);
    const logger = recordingLogger();
    const runner = new DbOpRunner({
      maxRetries: 10,
      initialDelayMs: 50,
      maxDelayMs: 100,
      jitter: 'none',
      logger,
    });
    const s = sqliteSession(b, noLockWait);
    await runner.run(s, (t) => t.query('UPDATE t SET v = v + 1 WHERE id = 1'), {
      name: 'bump',
      lockTimeoutMs: 5000,
    });
    // The other connection's timer ran while we waited: the event loop was free.
    expect(releasedAt).toBeGreaterThan(0);
    expect(b.prepare('SELECT v FROM t').get()).toEqual({ v: 101 });
    const busy = logger.records.filter((r) => r.object.kind === 'lock-timeout');
    expect(busy.length).toBeGreaterThan(0);
    expect(busy.every((r) => r.level === 'warn' && String(r.object.code).startsWith('SQLITE_BUSY'))).toBe(
      true,
    );
    expect(b.pragma('busy_timeout', { simple: true })).toBe(0);
    expect(b.inTransaction).toBe(false);
  });

  it('a failing step inside the caller transaction rolls back to its savepoint only', async () => {
    const s = sqliteSession(b, noLockWait);
    const runner = new DbOpRunner({ maxRetries: 0 });
    await s.begin();
    await s.query('INSERT INTO t VALUES (2, 2)');
    await expect(runner.run(s, (t) => t.query('INSERT INTO t VALUES (1, 1)'))).rejects.toMatchObject({
      code: 'SQLITE_CONSTRAINT_PRIMARYKEY',
    });
    await runner.run(s, (t) => t.query('INSERT INTO t VALUES (3, 3)'));
    await s.commit();
    expect(b.prepare('SELECT id FROM t ORDER BY id').all()).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
  });

  it('inside the caller transaction a busy step is retried after ROLLBACK TO with at most 10 ms of backoff', async () => {
    a.exec('BEGIN IMMEDIATE; UPDATE t SET v = 100 WHERE id = 1');
    setTimeout(() => a.exec('COMMIT'), 150);
    const logger = recordingLogger();
    // A policy that would sleep 200 ms and more between attempts at the top level.
    const runner = new DbOpRunner({ maxRetries: 50, initialDelayMs: 200, jitter: 'none', logger });
    const s = sqliteSession(b, noLockWait);
    b.exec('BEGIN DEFERRED');
    const started = Date.now();
    await runner.run(s, (t) => t.query('INSERT INTO t VALUES (2, 2)'), { name: 'nested', lockTimeoutMs: 5 });
    const elapsed = Date.now() - started;
    expect(b.inTransaction).toBe(true);
    b.exec('COMMIT');
    const retries = logger.records.filter((r) => r.message === 'nested failed');
    expect(retries.length).toBeGreaterThan(0);
    expect(retries.every((r) => r.object.kind === 'lock-timeout' && Number(r.object.delayMs) <= 10)).toBe(
      true,
    );
    // The delays above are the real check; this only catches a step that waits instead of retrying,
    // with room for a loaded machine.
    expect(elapsed).toBeLessThan(5000);
    expect(b.prepare('SELECT id FROM t ORDER BY id').all()).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('a top-level step keeps the full backoff (no transaction is open while it sleeps)', async () => {
    a.exec('BEGIN IMMEDIATE; UPDATE t SET v = 100 WHERE id = 1');
    setTimeout(() => a.exec('COMMIT'), 100);
    const logger = recordingLogger();
    const runner = new DbOpRunner({ maxRetries: 5, initialDelayMs: 200, jitter: 'none', logger });
    await runner.run(sqliteSession(b, noLockWait), (t) => t.query('INSERT INTO t VALUES (3, 3)'), {
      name: 'top',
    });
    const retries = logger.records.filter((r) => r.message === 'top failed');
    expect(retries.map((r) => r.object.delayMs)).toEqual([200]);
  });
});
