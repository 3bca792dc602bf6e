import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isDbopError } from '../../src/core/errors.js';
import { createDatabase } from '../../src/database/create-database.js';
import type { Database } from '../../src/database/database.js';
import type { DatabaseConnection } from '../../src/database/database-connection.js';

// The facade on the two embedded drivers: real better-sqlite3 files and a real PGlite instance. PGlite takes
// seconds to start (6 to 10 s on a loaded 2-core machine), hence the `embedded` project and its timeouts.
/** A transaction that writes row `id` and then holds SQLite's write lock until end() is called. */
function holdWriteLock(target: Database, id: number): { readonly done: Promise<void>; end(): void } {
  let end = (): void => undefined;
  const holding = new Promise<void>((resolve) => {
    end = resolve;
  });
  const done = target.transaction(async (conn) => {
    await conn.execute('INSERT INTO item (id, name) VALUES (:id, :n)', { id, n: 'holder' });
    await holding;
  });
  return { done, end: () => end() };
}

describe('createDatabase on SQLite', () => {
  let dir: string;
  let path: string;
  let db: Database;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dbop-db-test-'));
    path = join(dir, 'app.db');
    db = await createDatabase({
      url: `sqlite:${path}`,
      max: 3,
      maxRetries: 100,
      initialDelayMs: 1,
      maxDelayMs: 5,
    });
    await db.query('CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
  });

  afterAll(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('query() binds named and positional parameters', async () => {
    await db.query('INSERT INTO item (id, name) VALUES (:id, :name)', { id: 1, name: "it's :name" });
    await db.query('INSERT INTO item (id, name) VALUES (?, ?)', [2, 'two']);
    const { rows } = await db.query('SELECT name FROM item WHERE id IN (:a, :b) ORDER BY id', { a: 1, b: 2 });
    expect(rows).toEqual([{ name: "it's :name" }, { name: 'two' }]);
  });

  it('acquire() commits when the callback resolves and rolls back when it throws', async () => {
    await db.acquire((conn) =>
      conn.execute('INSERT INTO item (id, name) VALUES (:id, :name)', { id: 10, name: 'kept' }),
    );
    const failure = new Error('business rule');
    await expect(
      db.acquire(async (conn) => {
        await conn.execute('INSERT INTO item (id, name) VALUES (:id, :name)', { id: 11, name: 'dropped' });
        throw failure;
      }),
    ).rejects.toBe(failure);
    const { rows } = await db.query('SELECT id FROM item WHERE id IN (10, 11)');
    expect(rows).toEqual([{ id: 10 }]);
  });

  it('transaction() rolls back everything when fn throws, and returns fn value otherwise', async () => {
    await expect(
      db.transaction(async (conn) => {
        await conn.execute('INSERT INTO item (id, name) VALUES (20, :n)', { n: 'x' });
        throw new Error('nope');
      }),
    ).rejects.toThrow('nope');
    const value = await db.transaction(
      async (conn) => (await conn.execute('SELECT count(*) AS n FROM item WHERE id = 20')).rows[0],
    );
    expect(value).toEqual({ n: 0 });
  });

  it('stream() yields rows one at a time and stops early on break', async () => {
    await db.acquire(async (conn) => {
      for (let id = 100; id < 150; id += 1)
        await conn.execute('INSERT INTO item (id, name) VALUES (:id, :name)', { id, name: `n${id}` });
    });
    const seen: unknown[] = [];
    await db.acquire(async (conn) => {
      for await (const row of conn.stream<{ id: number }>(
        'SELECT id FROM item WHERE id >= :from ORDER BY id',
        { from: 100 },
      )) {
        seen.push(row.id);
        if (seen.length === 5) break;
      }
      // The connection is usable after the early break.
      await conn.execute('SELECT 1');
    });
    expect(seen).toEqual([100, 101, 102, 103, 104]);
  });

  it('counts every database error by kind and code', async () => {
    const before = db.stats().errors;
    await expect(db.query('INSERT INTO item (id, name) VALUES (1, :n)', { n: 'dup' })).rejects.toMatchObject({
      code: 'SQLITE_CONSTRAINT_PRIMARYKEY',
    });
    await expect(db.acquire((conn) => conn.execute('SELEC 1'))).rejects.toMatchObject({
      code: 'SQLITE_ERROR',
    });
    const after = db.stats().errors;
    expect(after.total - before.total).toBe(2);
    expect(after.byKind.constraint).toBe((before.byKind.constraint ?? 0) + 1);
    expect(after.byCode['sqlite:SQLITE_CONSTRAINT_PRIMARYKEY']).toBe(
      (before.byCode['sqlite:SQLITE_CONSTRAINT_PRIMARYKEY'] ?? 0) + 1,
    );
    expect(after.byCode['sqlite:SQLITE_ERROR']).toBe((before.byCode['sqlite:SQLITE_ERROR'] ?? 0) + 1);
  });

  it("a statement the caller's abort fenced off is no database error: not counted", async () => {
    const errorsBefore = db.stats().errors;
    const controller = new AbortController();
    let statementAfterAbort: unknown;
    const unit = db.transaction(
      async (conn) => {
        await conn.execute("INSERT INTO item (id, name) VALUES (601, 'fenced')");
        controller.abort();
        // The step goes on as JavaScript after its attempt ended: its statement is refused with the reason.
        statementAfterAbort = await conn.execute('SELECT 1 AS one').catch((error: unknown) => error);
      },
      { signal: controller.signal },
    );
    await expect(unit).rejects.toMatchObject({ name: 'AbortError' });
    await vi.waitFor(() => expect(statementAfterAbort).toMatchObject({ name: 'AbortError' }), {
      timeout: 5000,
    });
    expect(db.stats().errors).toEqual(errorsBefore);
    expect((await db.query('SELECT id FROM item WHERE id = 601')).rows).toEqual([]);
  });

  it('transaction() waits for a write lock held elsewhere without blocking, no SQLITE_BUSY', async () => {
    const other = new BetterSqlite(path);
    other.exec('BEGIN IMMEDIATE');
    let released = false;
    const release = new Promise<void>((resolve) =>
      setTimeout(() => {
        other.exec('COMMIT');
        released = true;
        resolve();
      }, 40),
    );
    try {
      const before = db.stats().errors.byCode['sqlite:SQLITE_BUSY'] ?? 0;
      await db.transaction(
        (conn) => conn.execute('INSERT INTO item (id, name) VALUES (200, :n)', { n: 'after busy' }),
        { name: 'busy-test' },
      );
      // The other connection's timer ran while BEGIN IMMEDIATE waited: the event loop was free.
      expect(released).toBe(true);
      expect(db.stats().errors.byCode['sqlite:SQLITE_BUSY'] ?? 0).toBe(before);
      expect((await db.query('SELECT name FROM item WHERE id = 200')).rows).toEqual([{ name: 'after busy' }]);
    } finally {
      await release;
      other.close();
    }
  });

  it('with sqliteLockWaitMs 0, transaction() retries a real SQLITE_BUSY with async backoff', async () => {
    const impatient = await createDatabase({
      url: `sqlite:${path}`,
      sqliteLockWaitMs: 0,
      maxRetries: 100,
      initialDelayMs: 1,
      maxDelayMs: 5,
    });
    const other = new BetterSqlite(path);
    other.exec('BEGIN IMMEDIATE');
    const release = new Promise<void>((resolve) =>
      setTimeout(() => {
        other.exec('COMMIT');
        resolve();
      }, 40),
    );
    try {
      await impatient.transaction(
        (conn) => conn.execute('INSERT INTO item (id, name) VALUES (201, :n)', { n: 'after busy' }),
        { name: 'busy-test' },
      );
      expect(impatient.stats().errors.byCode['sqlite:SQLITE_BUSY']).toBeGreaterThan(0);
      expect((await db.query('SELECT name FROM item WHERE id = 201')).rows).toEqual([{ name: 'after busy' }]);
    } finally {
      await release;
      other.close();
      await impatient.close();
    }
  });

  it('an abort ends a transaction waiting in line behind a writer of this thread at once', async () => {
    const patient = await createDatabase({ url: `sqlite:${path}`, max: 2, sqliteLockWaitMs: 60_000 });
    const holder = holdWriteLock(patient, 301);
    try {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const controller = new AbortController();
      const waiter = patient.transaction(
        (conn) => conn.execute('INSERT INTO item (id, name) VALUES (302, :n)', { n: 'waiter' }),
        { signal: controller.signal },
      );
      const errorsBefore = patient.stats().errors;
      setTimeout(() => controller.abort(new Error('stop waiting')), 20);
      // Settles while the holder still holds the lock: the abort does not wait for it (nor for cleanupTimeoutMs).
      const outcome = await Promise.race([
        waiter.then(
          () => 'committed',
          (error: unknown) => (error as Error).message,
        ),
        new Promise((resolve) => setTimeout(resolve, 4000, 'still waiting')),
      ]);
      expect(outcome).toBe('stop waiting');
      // The caller's abort is no database error: nothing counted (it was a SQLITE_BUSY from the BEGIN once
      // tried after the wait, while the holder still held the lock).
      expect(patient.stats().errors).toEqual(errorsBefore);
    } finally {
      holder.end();
      await holder.done;
      await patient.close();
    }
    expect((await db.query('SELECT id FROM item WHERE id IN (301, 302)')).rows).toEqual([{ id: 301 }]);
  });

  it('a write nested in a transaction() on the same file fails at once, not retried; nested reads work', async () => {
    const nesting = await createDatabase({
      url: `sqlite:${path}`,
      max: 3,
      sqliteLockWaitMs: 60_000,
      maxRetries: 100,
      initialDelayMs: 1,
      maxDelayMs: 5,
    });
    const attempts: Record<string, number> = {};
    const write = (conn: DatabaseConnection, label: string) => {
      attempts[label] = (attempts[label] ?? 0) + 1;
      return conn.execute('INSERT INTO item (id, name) VALUES (:id, :n)', { id: 503, n: label });
    };
    const nested = {
      run: () => nesting.run((conn) => write(conn, 'run')),
      transaction: () => nesting.transaction((conn) => write(conn, 'transaction')),
      acquire: () => nesting.acquire((conn) => write(conn, 'acquire')),
      query: () => nesting.query("INSERT INTO item (id, name) VALUES (503, 'query')"),
    };
    try {
      for (const [label, inner] of Object.entries(nested)) {
        let outerAttempts = 0;
        const outer = nesting.transaction(async (conn) => {
          outerAttempts += 1;
          await conn.execute('INSERT INTO item (id, name) VALUES (:id, :n)', { id: 502, n: 'outer' });
          // Reads nested there go on as before: autocommit and readOnly ones take no write lock.
          const read = await nesting.query('SELECT count(*) AS n FROM item WHERE id = 502');
          const readOnly = await nesting.run(
            (c) => c.execute('SELECT count(*) AS n FROM item WHERE id = 502'),
            {
              readOnly: true,
            },
          );
          expect([read.rows, readOnly.rows]).toEqual([[{ n: 0 }], [{ n: 0 }]]);
          await inner();
        });
        // Settles long before sqliteLockWaitMs, and neither the nested unit nor the outer one is retried.
        const outcome = await Promise.race([
          outer.then(
            () => 'committed',
            (error: unknown) => (error as { code?: unknown }).code,
          ),
          new Promise((resolve) => setTimeout(resolve, 10_000, 'still waiting')),
        ]);
        expect([label, outcome, outerAttempts, attempts[label] ?? 0]).toEqual([
          label,
          'DBOP_NESTED_WRITE',
          1,
          0,
        ]);
      }
      await expect(nesting.transaction(() => nested.run())).rejects.toThrow(/the `conn` its callback got/);
      expect(nesting.stats().errors.byCode['sqlite:SQLITE_BUSY']).toBeUndefined();
    } finally {
      await nesting.close();
    }
    expect((await db.query('SELECT id FROM item WHERE id IN (502, 503)')).rows).toEqual([]);
  });

  it("a COMMIT held back by another process's read waits for it: the transfer commits once", async () => {
    // Rollback journal: a reader's SHARED lock makes COMMIT answer SQLITE_BUSY until the read ends.
    const journal = join(dir, 'journal.db');
    const bank = await createDatabase({
      url: `sqlite:${journal}`,
      sqliteWal: false,
      sqliteLockWaitMs: 30_000,
      maxRetries: 0,
    });
    await bank.query('CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER NOT NULL)');
    await bank.query('INSERT INTO acct VALUES (1, 100), (2, 100)');
    const reader = spawn(
      process.execPath,
      [
        '-e',
        `const D = require('better-sqlite3'); const d = new D(${JSON.stringify(journal)});
         d.exec('BEGIN'); d.prepare('SELECT * FROM acct').all(); console.log('reading');
         setTimeout(() => { d.exec('COMMIT'); d.close(); }, 100);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await Promise.race([
        once(reader.stdout!, 'data'),
        once(reader, 'exit').then(() => Promise.reject(new Error('the reading process ended early'))),
      ]);
      let runs = 0;
      await bank.transaction(async (conn) => {
        runs += 1;
        await conn.execute('UPDATE acct SET bal = bal - 10 WHERE id = 1');
        await conn.execute('UPDATE acct SET bal = bal + 10 WHERE id = 2');
      });
      expect(runs).toBe(1);
      expect((await bank.query('SELECT bal FROM acct ORDER BY id')).rows).toEqual([
        { bal: 90 },
        { bal: 110 },
      ]);
      expect(bank.stats().errors.total).toBe(0);
    } finally {
      if (reader.exitCode === null) await once(reader, 'exit');
      await bank.close();
    }
  });

  it("writers of one thread take turns under a test's fake timers: the hand-off needs no timer", async () => {
    // A test of the caller's code with vitest's default fake timers (setImmediate among them): the next
    // writer's BEGIN must not wait for a timer the test never advances, as it did not before the gate
    // handed on in a later turn of the event loop.
    const realTimeout = globalThis.setTimeout;
    const turns = await createDatabase({ url: `sqlite:${path}`, max: 2 });
    vi.useFakeTimers();
    try {
      const first = holdWriteLock(turns, 401);
      const second = turns.transaction((conn) =>
        conn.execute('INSERT INTO item (id, name) VALUES (402, :n)', { n: 'second' }),
      );
      first.end();
      const outcome = await Promise.race([
        Promise.all([first.done, second]).then(() => 'both committed'),
        new Promise((resolve) => realTimeout(resolve, 5000, 'second still waiting')),
      ]);
      expect(outcome).toBe('both committed');
    } finally {
      vi.useRealTimers();
      await turns.close();
    }
    expect((await db.query('SELECT id FROM item WHERE id IN (401, 402) ORDER BY id')).rows).toEqual([
      { id: 401 },
      { id: 402 },
    ]);
  });

  it('rejects calls after close() and unknown options', async () => {
    const scratch = await createDatabase('sqlite::memory:');
    await scratch.close();
    await expect(scratch.query('SELECT 1')).rejects.toSatisfy((error) =>
      isDbopError(error, 'DBOP_DATABASE_CLOSED'),
    );
    await expect(createDatabase({ url: 'sqlite::memory:', maxRetrys: 3 } as never)).rejects.toThrow(
      'Unknown option `maxRetrys` of createDatabase()',
    );
    await expect(createDatabase({ url: 'sqlite::memory:', max: 0 })).rejects.toThrow(
      'Expected `max` to be a positive integer, got 0',
    );
  });
});

describe('createDatabase on PGlite', () => {
  let db: Database;

  beforeAll(async () => {
    db = await createDatabase('pglite:memory');
    await db.query('CREATE TABLE n (v integer PRIMARY KEY)');
  });

  afterAll(async () => {
    await db.close();
  });

  it('translates named parameters around ::casts and dollar quotes', async () => {
    const { rows } = await db.query(
      "SELECT :v::int + 1 AS next, $$ :not_a_param $$ AS text, ':x'::text AS lit",
      { v: '41' },
    );
    expect(rows).toEqual([{ next: 42, text: ' :not_a_param ', lit: ':x' }]);
  });

  it('stream() reads past one cursor batch inside acquire()', async () => {
    await db.query('INSERT INTO n SELECT generate_series(1, 450)');
    const values = await db.acquire(async (conn) => {
      const out: number[] = [];
      for await (const row of conn.stream<{ v: number }>('SELECT v FROM n WHERE v > :min ORDER BY v', {
        min: 0,
      }))
        out.push(row.v);
      return out;
    });
    expect(values).toHaveLength(450);
    expect(values[449]).toBe(450);
  });

  it('acquire() rolls back on throw', async () => {
    await expect(
      db.acquire(async (conn) => {
        await conn.execute('DELETE FROM n');
        throw new Error('undo');
      }),
    ).rejects.toThrow('undo');
    expect((await db.query('SELECT count(*)::int AS c FROM n')).rows).toEqual([{ c: 450 }]);
  });

  it('acquire(): good options reach BEGIN (readOnly refuses a write, then a writable one commits)', async () => {
    await db.query('CREATE TABLE item (id int PRIMARY KEY)');
    await expect(
      db.acquire((conn) => conn.execute('INSERT INTO item (id) VALUES (1)'), {
        readOnly: true,
        isolationLevel: 'serializable',
      }),
    ).rejects.toMatchObject({ code: '25006' });
    await db.acquire((conn) => conn.execute('INSERT INTO item (id) VALUES (1)'), { readOnly: false });
    expect((await db.query('SELECT id FROM item')).rows).toEqual([{ id: 1 }]);
  });
});
