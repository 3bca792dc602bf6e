import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';

/** Calls `call` and returns its promise; a synchronous throw fails the test instead of passing as a rejection. */
function rejection(call: () => Promise<unknown>): Promise<unknown> {
  let promise: Promise<unknown>;
  try {
    promise = call();
  } catch (error) {
    throw new Error(`threw synchronously instead of rejecting: ${String(error)}`);
  }
  expect(promise).toBeInstanceOf(Promise);
  return promise.then(
    () => {
      throw new Error('resolved instead of rejecting');
    },
    (error: unknown) => error,
  );
}

const bad = (value: unknown): never => value as never;

describe('Database options are checked, and a bad one is a rejected promise', () => {
  let db: Database;

  beforeAll(async () => {
    db = await createDatabase({ url: 'sqlite::memory:', maxRetries: 0 });
    await db.query('CREATE TABLE item (id INTEGER PRIMARY KEY)');
  });
  afterAll(async () => {
    await db.close();
  });

  it('acquire(): a typo (`readonly`) is an error, not a silently writable transaction', async () => {
    const error = await rejection(() => db.acquire(() => 1, bad({ readonly: true })));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe(
      'Unknown option `readonly` of acquire(); known options: isolationLevel, readOnly',
    );
  });

  it('acquire(): `alsoRun` never reaches the session, so no SQL rides along with BEGIN', async () => {
    const error = await rejection(() => db.acquire(() => 1, bad({ alsoRun: ['DROP TABLE item'] })));
    expect((error as Error).message).toMatch(/^Unknown option `alsoRun` of acquire\(\)/);
    expect((await db.query("SELECT name FROM sqlite_master WHERE name = 'item'")).rows).toHaveLength(1);
  });

  it('acquire(): isolationLevel and readOnly values are checked before a connection is taken', async () => {
    const cases: Array<[unknown, string]> = [
      [
        { isolationLevel: 'snapshot' },
        'Expected `isolationLevel` to be one of "read uncommitted", "read committed", "repeatable read", "serializable", got "snapshot"',
      ],
      [{ readOnly: 'yes' }, 'Expected `readOnly` to be a boolean, got "yes"'],
      [[], 'Expected the options of acquire() to be an object, got an array'],
    ];
    for (const [options, message] of cases) {
      const error = await rejection(() => db.acquire(() => 1, bad(options)));
      expect([options, (error as Error).message]).toEqual([options, message]);
    }
    expect(db.stats().pool.inUse).toBe(0);
  });

  it('deadlockRetryExecute(): unknown keys and bad values', async () => {
    const cases: Array<[unknown, string]> = [
      [
        { maxAttempt: 3 },
        'Unknown option `maxAttempt` of deadlockRetryExecute(); known options: maxAttempts, delayMs',
      ],
      [{ maxAttempts: 0 }, 'Expected `maxAttempts` to be a positive integer, got 0'],
      [{ maxAttempts: '3' }, 'Expected `maxAttempts` to be a positive integer, got "3"'],
      [
        { delayMs: -1 },
        "Expected `delayMs` to be a number of milliseconds from 0 to 2147483647 (Node's timer limit), got -1",
      ],
      [
        { delayMs: 1e12 },
        "Expected `delayMs` to be a number of milliseconds from 0 to 2147483647 (Node's timer limit), got 1000000000000",
      ],
      [{ maxAttempts: null }, 'Expected `maxAttempts` to be a positive integer, got null'],
    ];
    for (const [options, message] of cases) {
      const error = await db.acquire((conn) =>
        rejection(() => conn.deadlockRetryExecute('SELECT 1', undefined, bad(options))),
      );
      expect([options, (error as Error).message]).toEqual([options, message]);
    }
  });

  it('run(), transaction() and query(): unknown keys and non-functions reject', async () => {
    const cases: Array<[() => Promise<unknown>, RegExp]> = [
      [
        () => db.transaction(() => 1, bad({ isolation: 'serializable' })),
        /Unknown option `isolation` of db.transaction\(\)/,
      ],
      [() => db.run(() => 1, bad({ lockTimeout: 5 })), /Unknown option `lockTimeout` of db.run\(\)/],
      [
        () => db.run(() => 1, bad({ isolationLevel: 'serializable' })),
        /Unknown option `isolationLevel` of db.run\(\)/,
      ],
      [
        () => db.query('SELECT 1', undefined, bad({ readonly: true })),
        /Unknown option `readonly` of db.query\(\)/,
      ],
      [() => db.query(bad(42)), /^Expected the SQL of query\(\) to be a string, got 42$/],
      [() => db.run(bad('SELECT 1')), /^Expected the argument of run\(\) to be a function, got "SELECT 1"$/],
      [() => db.transaction(bad(undefined)), /^Expected the argument of transaction\(\) to be a function/],
      [() => db.acquire(bad(null)), /^Expected the argument of acquire\(\) to be a function, got null$/],
    ];
    for (const [call, message] of cases) {
      const error = await rejection(call);
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(message);
    }
    expect(db.stats().errors.total).toBe(0);
  });
});
