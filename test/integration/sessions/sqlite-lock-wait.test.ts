import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sqliteSession } from '../../../src/sessions/better-sqlite3/index.js';
import { insideTransactionOf } from '../../../src/sessions/better-sqlite3/writer-gate.js';

/** How a promise settles within `ms`: 'began' (resolved), its error's code, or 'still waiting'. */
function settledWithin(promise: Promise<unknown>, ms: number): Promise<unknown> {
  return Promise.race([
    promise.then(
      () => 'began',
      (error: unknown) => (error as { code?: unknown }).code,
    ),
    new Promise((resolve) => setTimeout(resolve, ms, 'still waiting')),
  ]);
}

// BEGIN IMMEDIATE waits for SQLite's write lock without blocking the event loop: in turn behind a writer of
// the same thread, polling (as SQLite's busy handler does) for one elsewhere, up to lockWaitMs.
describe('sqliteSession waits for the write lock at BEGIN IMMEDIATE', () => {
  let dir: string;
  let path: string;
  const opened: Database.Database[] = [];
  const open = (): Database.Database => {
    const db = new Database(path, { timeout: 0 });
    opened.push(db);
    return db;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dbop-sqlite-lock-wait-'));
    path = join(dir, 'db.sqlite');
    const setup = open();
    setup.pragma('journal_mode = WAL');
    setup.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL); INSERT INTO t VALUES (1, 0)');
  });
  afterEach(() => {
    for (const db of opened.splice(0)) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a writer of the same thread: the second BEGIN waits its turn, no SQLITE_BUSY', async () => {
    const a = sqliteSession(open());
    const b = sqliteSession(open());
    await a.begin();
    let bBegan = false;
    const second = b.begin().then(() => {
      bBegan = true;
    });
    // a's transaction goes on while b waits: the event loop is free, and b has not begun.
    await new Promise((resolve) => setTimeout(resolve, 30));
    await a.query('UPDATE t SET v = v + 1 WHERE id = 1');
    expect(bBegan).toBe(false);
    await a.commit();
    await second;
    expect(bBegan).toBe(true);
    await b.query('UPDATE t SET v = v + 10 WHERE id = 1');
    await b.commit();
    expect(b.raw.prepare('SELECT v FROM t').get()).toEqual({ v: 11 });
  });

  it('writers of the same thread take turns in arrival order, each after the one before ended', async () => {
    const sessions = [0, 1, 2, 3].map(() => sqliteSession(open()));
    const order: number[] = [];
    await Promise.all(
      sessions.map(async (session, i) => {
        await session.begin();
        order.push(i);
        await new Promise((resolve) => setTimeout(resolve, 5));
        await session.query('UPDATE t SET v = v + 1 WHERE id = 1');
        // A rollback ends the turn as a commit does.
        if (i === 1) await session.rollback();
        else await session.commit();
      }),
    );
    expect(order).toEqual([0, 1, 2, 3]);
    expect(sessions[0]!.raw.prepare('SELECT v FROM t').get()).toEqual({ v: 3 });
  });

  it("the next writer of the thread begins after the code that follows the last one's COMMIT, not inside it", async () => {
    // What runs after a COMMIT (the rest of that caller's work, up to its next real wait) would otherwise
    // interleave with the next writer's statements, and hold the file's write lock for every thread.
    const a = sqliteSession(open());
    const b = sqliteSession(open());
    await a.begin();
    const order: string[] = [];
    const second = b.begin().then(() => order.push('b began'));
    await (async () => {
      await a.commit();
      for (let hop = 0; hop < 50; hop++) await null;
      order.push("a's caller went on");
    })();
    await second;
    expect(order).toEqual(["a's caller went on", 'b began']);
    await b.commit();
  });

  it('a writer elsewhere: BEGIN is tried again until the lock is free, the event loop runs meanwhile', async () => {
    // Another connection (as another process would) holds the lock; it commits from a timer of this loop.
    const other = open();
    other.exec('BEGIN IMMEDIATE; UPDATE t SET v = 100 WHERE id = 1');
    let releasedAt = 0;
    setTimeout(() => {
      other.exec('COMMIT');
      releasedAt = performance.now();
    }, 40);
    const session = sqliteSession(open());
    await session.begin();
    expect(releasedAt).toBeGreaterThan(0);
    await session.query('UPDATE t SET v = v + 1 WHERE id = 1');
    await session.commit();
    expect(session.raw.prepare('SELECT v FROM t').get()).toEqual({ v: 101 });
  });

  it('a writer of this thread waiting for a lock held elsewhere keeps its turn: the next one queues behind it', async () => {
    const other = open();
    other.exec('BEGIN IMMEDIATE');
    setTimeout(() => other.exec('COMMIT'), 40);
    const a = sqliteSession(open());
    const b = sqliteSession(open());
    const order: string[] = [];
    // a polls after 1, 3, 8, 18, 33, 53 ms: the lock is free at 40 and a has it at 53. b, started at 38,
    // would poll at 39, 41, 46 and get in first if it polled beside a rather than waited behind it.
    const first = a.begin().then(() => order.push('a began'));
    await new Promise((resolve) => setTimeout(resolve, 38));
    const second = b.begin().then(() => order.push('b began'));
    await first;
    // b does not slip in beside a once the lock is free: it waits for a's transaction to end.
    await new Promise((resolve) => setTimeout(resolve, 20));
    order.push('a commits');
    await a.commit();
    await second;
    await b.commit();
    expect(order).toEqual(['a began', 'a commits', 'b began']);
  });

  it('gives up with SQLITE_BUSY after lockWaitMs, and lockWaitMs 0 answers it at once', async () => {
    const other = open();
    other.exec('BEGIN IMMEDIATE');
    const patient = sqliteSession(open(), { lockWaitMs: 30 });
    await expect(patient.begin()).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    expect(patient.inTransaction()).toBe(false);
    const impatient = sqliteSession(open(), { lockWaitMs: 0 });
    await expect(impatient.begin()).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    // Waiting in turn behind a writer of this thread is bounded the same way.
    other.exec('COMMIT');
    const holder = sqliteSession(open());
    await holder.begin();
    await expect(patient.begin()).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    await holder.commit();
    // The gate was handed on and given back: the next writer goes straight in.
    await patient.begin();
    await patient.commit();
  });

  it('a read-only transaction does not wait for a writer', async () => {
    const writer = sqliteSession(open());
    await writer.begin();
    const reader = sqliteSession(open());
    await reader.begin({ readOnly: true });
    expect((await reader.query('SELECT v FROM t')).rows).toEqual([{ v: 0 }]);
    await reader.commit();
    await writer.commit();
  });

  it("in WAL a reader's open read does not hold back a writer's COMMIT", async () => {
    // What the rollback journal makes wait (see sqlite-transaction.test.ts) needs no wait here.
    const reader = open();
    reader.exec('BEGIN');
    reader.prepare('SELECT * FROM t').all();
    const writer = sqliteSession(open(), { lockWaitMs: 0 });
    await writer.begin();
    await writer.query('UPDATE t SET v = 5 WHERE id = 1');
    await writer.commit();
    expect(reader.prepare('SELECT v FROM t').get()).toEqual({ v: 0 });
    reader.exec('COMMIT');
    expect(reader.prepare('SELECT v FROM t').get()).toEqual({ v: 5 });
  });

  it('cancel() ends a wait for a lock held elsewhere', async () => {
    const other = open();
    other.exec('BEGIN IMMEDIATE');
    const session = sqliteSession(open(), { lockWaitMs: 60_000 });
    const begun = session.begin();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await session.cancel?.();
    // The caller's abort, not the database's answer: the last BUSY is only its cause.
    await expect(begun).rejects.toMatchObject({
      code: 'DBOP_LOCK_WAIT_CANCELLED',
      cause: { code: 'SQLITE_BUSY' },
    });
    other.exec('ROLLBACK');
  });

  it('cancel() ends a wait in line behind a writer of this thread, and the line goes on without it', async () => {
    const holder = sqliteSession(open());
    await holder.begin();
    const waiting = sqliteSession(open(), { lockWaitMs: 60_000 });
    const next = sqliteSession(open(), { lockWaitMs: 60_000 });
    const begun = waiting.begin();
    const nextBegun = next.begin();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await waiting.cancel?.();
    // Settles before the holder ends (it never would here, were the cancel ignored), and BEGIN is not tried:
    // the error is the cancel, not a SQLITE_BUSY from the holder's lock.
    expect(await settledWithin(begun, 10_000)).toBe('DBOP_LOCK_WAIT_CANCELLED');
    expect(waiting.inTransaction()).toBe(false);
    await holder.commit();
    await nextBegun;
    await next.commit();
  });

  it('destroy() during a wait in line: BEGIN never runs on the destroyed session', async () => {
    const holder = sqliteSession(open());
    await holder.begin();
    const waiting = sqliteSession(open(), { lockWaitMs: 60_000 });
    const begun = waiting.begin();
    await new Promise((resolve) => setTimeout(resolve, 20));
    waiting.destroy();
    await holder.commit();
    await expect(begun).rejects.toMatchObject({ code: 'DBOP_SESSION_DESTROYED' });
    expect(waiting.raw.inTransaction).toBe(false);
    // The gate is free: another writer goes straight in.
    const other = sqliteSession(open(), { lockWaitMs: 0 });
    await other.begin();
    await other.commit();
  });

  it('a write begun inside a transaction that holds the lock fails at once; one beside it waits its turn', async () => {
    const outer = sqliteSession(open());
    const inner = sqliteSession(open(), { lockWaitMs: 60_000 });
    await outer.begin();
    await outer.query('UPDATE t SET v = 1 WHERE id = 1');
    // Inside the outer transaction's body: waiting would wait for the body's own caller.
    const nested = insideTransactionOf(outer.raw, () => inner.begin());
    expect(await settledWithin(nested, 10_000)).toBe('DBOP_NESTED_WRITE');
    await expect(nested).rejects.toThrow(/readOnly: true/);
    expect(inner.inTransaction()).toBe(false);
    // So does an autocommit write, which SQLite answers with BUSY.
    const autocommit = insideTransactionOf(outer.raw, () => inner.query('UPDATE t SET v = 2 WHERE id = 1'));
    await expect(autocommit).rejects.toMatchObject({
      code: 'DBOP_NESTED_WRITE',
      cause: { code: 'SQLITE_BUSY' },
    });
    // A read inside it still works, and a write outside its body waits in line as before.
    const read = insideTransactionOf(outer.raw, () => inner.query('SELECT v FROM t'));
    expect((await read).rows).toEqual([{ v: 0 }]);
    const beside = inner.begin();
    await outer.commit();
    await beside;
    await inner.commit();
  });

  it('a body marked inside a transaction that has ended marks nothing: the next writer on its connection waits', async () => {
    // The mark names one transaction, not the connection: a timer the body left behind that writes later,
    // while the same pooled connection holds the lock for another transaction, waits in line.
    const outer = sqliteSession(open());
    const inner = sqliteSession(open(), { lockWaitMs: 60_000 });
    await outer.begin();
    let release = (): void => undefined;
    const begun = insideTransactionOf(outer.raw, () =>
      new Promise<void>((resolve) => {
        release = resolve;
      }).then(() => inner.begin()),
    );
    await outer.commit();
    await outer.begin();
    release();
    expect(await settledWithin(begun, 50)).toBe('still waiting');
    await outer.commit();
    await begun;
    await inner.commit();
  });

  it('a write the body left behind that starts after the body ended waits in line, not DBOP_NESTED_WRITE', async () => {
    // A timer set in a transaction's callback may fire once the callback has returned while the transaction
    // still holds the lock (its COMMIT waiting for readers, rollback journal): nothing waits for that write,
    // so it waits its turn like any other.
    const outer = sqliteSession(open());
    const inner = sqliteSession(open(), { lockWaitMs: 60_000 });
    await outer.begin();
    await outer.query('UPDATE t SET v = 1 WHERE id = 1');
    let release = (): void => undefined;
    let begun: Promise<void> = Promise.resolve();
    await insideTransactionOf(outer.raw, () => {
      begun = new Promise<void>((resolve) => {
        release = resolve;
      }).then(() => inner.begin());
    });
    release();
    expect(await settledWithin(begun, 50)).toBe('still waiting');
    await outer.commit();
    await begun;
    await inner.commit();
  });

  it('a connection opened through a symbolic link shares the gate of the file: nesting is told, not waited for', async () => {
    // One file, two names: SQLite locks the file, so the writers of this thread must take turns on one gate.
    const link = join(dir, 'link.sqlite');
    symlinkSync(path, link);
    const outer = sqliteSession(open());
    const linked = new Database(link, { timeout: 0 });
    opened.push(linked);
    const inner = sqliteSession(linked, { lockWaitMs: 60_000 });
    await outer.begin();
    await outer.query('UPDATE t SET v = 1 WHERE id = 1');
    const nested = insideTransactionOf(outer.raw, () => inner.begin());
    expect(await settledWithin(nested, 10_000)).toBe('DBOP_NESTED_WRITE');
    await outer.commit();
  });

  it('a write nested in a read transaction that holds the read lock (rollback journal) fails at COMMIT at once', async () => {
    // Its COMMIT needs every read lock gone, and the read transaction it runs inside awaits it.
    path = join(dir, 'journal.sqlite');
    open().exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL); INSERT INTO t VALUES (1, 0)');
    const reader = sqliteSession(open());
    const writer = sqliteSession(open(), { lockWaitMs: 60_000 });
    await reader.begin({ readOnly: true });
    await reader.query('SELECT v FROM t');
    const nested = insideTransactionOf(reader.raw, async () => {
      await writer.begin();
      await writer.query('UPDATE t SET v = 1 WHERE id = 1');
      await writer.commit();
    });
    expect(await settledWithin(nested, 10_000)).toBe('DBOP_NESTED_WRITE');
    await writer.rollback();
    // So does an autocommit write there, which SQLite answers with BUSY.
    const autocommit = insideTransactionOf(reader.raw, () => writer.query('UPDATE t SET v = 2 WHERE id = 1'));
    await expect(autocommit).rejects.toMatchObject({ code: 'DBOP_NESTED_WRITE' });
    await reader.commit();
    // Beside a read transaction, not inside it, a COMMIT waits for the read to end as before.
    await reader.begin({ readOnly: true });
    await reader.query('SELECT v FROM t');
    await writer.begin();
    await writer.query('UPDATE t SET v = 3 WHERE id = 1');
    const committed = writer.commit();
    await reader.commit();
    await committed;
    expect((await reader.query('SELECT v FROM t')).rows).toEqual([{ v: 3 }]);
  });

  it('rejects a lockWaitMs that is not a non-negative integer', () => {
    const db = open();
    expect(() => sqliteSession(db, { lockWaitMs: -1 })).toThrow(/lockWaitMs/);
    expect(() => sqliteSession(db, { lockWaitMs: 1.5 })).toThrow(/lockWaitMs/);
  });
});
