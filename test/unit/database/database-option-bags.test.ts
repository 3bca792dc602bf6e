import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import {
  type BagSpec,
  bagOf,
  boolean,
  budget,
  checkBag,
  checkNotObject,
  initialDelayMs,
  isolationLevel,
  jitter,
  logger,
  maxDelayMs,
  maxRetries,
  notAnObject,
  nullableServerTimeout,
  rejectionOf,
  signal,
  string,
  thrownBy,
  timer,
} from '../core/option-bags.js';

const runSpec: BagSpec = {
  name: string,
  readOnly: boolean,
  lockTimeoutMs: nullableServerTimeout,
  statementTimeoutMs: nullableServerTimeout,
  // Long enough that a clean bag's statement always finishes in time on a loaded machine.
  attemptTimeoutMs: { ...timer, valid: fc.integer({ min: 60_000, max: 2 ** 31 - 1 }) },
  deadlineMs: { ...timer, valid: fc.integer({ min: 60_000, max: 2 ** 31 - 1 }) },
  raises: boolean,
  default: { valid: fc.anything() },
  idempotent: boolean,
  signal,
};
const transactionSpec: BagSpec = {
  ...runSpec,
  isolationLevel: { ...isolationLevel, valid: fc.constant('serializable') },
};
const runnerSpec: BagSpec = {
  maxRetries,
  initialDelayMs,
  maxDelayMs,
  jitter,
  defaultLockTimeoutMs: nullableServerTimeout,
  defaultStatementTimeoutMs: nullableServerTimeout,
  defaultRaises: boolean,
  logger,
  budget,
};

describe('run(), transaction(), query() and DbOpRunner refuse junk options naming the key', () => {
  let db: Database;

  beforeAll(async () => {
    db = await createDatabase({ url: 'sqlite::memory:', maxRetries: 0 });
  });
  afterAll(async () => {
    await db.close();
  });

  it('new DbOpRunner() and createDatabase()', async () => {
    fc.assert(
      fc.property(bagOf(runnerSpec), (bag) =>
        checkBag(
          bag,
          thrownBy(() => new DbOpRunner(bag.value)),
        ),
      ),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(notAnObject, (options) =>
        checkNotObject(
          thrownBy(() => new DbOpRunner(options as never)),
          'new DbOpRunner()',
        ),
      ),
    );
    // createDatabase opens a pool: junk only, each must be refused before anything opens.
    await fc.assert(
      fc.asyncProperty(
        bagOf(runnerSpec).filter((bag) => bag.bad.length > 0),
        async (bag) => {
          checkBag(bag, await rejectionOf(() => createDatabase({ url: 'sqlite::memory:', ...bag.value })));
        },
      ),
      { numRuns: 100 },
    );
    for (const [key, value] of [
      ['connectTimeoutMs', 1e12],
      ['connectTimeoutMs', null],
      ['max', null],
      ['sqliteBusyTimeoutMs', 2 ** 31],
      ['sqliteLockWaitMs', -1],
      ['sqliteWal', null],
    ] as const) {
      const error = await rejectionOf(() => createDatabase({ url: 'sqlite::memory:', [key]: value }));
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toContain(`\`${key}\``);
    }
  }, 60_000);

  it('db.run(), db.transaction() and db.query(): every bag, with the options third or second', async () => {
    await fc.assert(
      fc.asyncProperty(bagOf(runSpec), async (bag) => {
        checkBag(bag, await rejectionOf(() => db.run(() => 1, bag.value)));
        checkBag(bag, await rejectionOf(() => db.query('SELECT 1', undefined, bag.value)));
      }),
      { numRuns: 150 },
    );
    await fc.assert(
      fc.asyncProperty(bagOf(transactionSpec), async (bag) => {
        checkBag(bag, await rejectionOf(() => db.transaction(() => 1, bag.value)));
      }),
      { numRuns: 150 },
    );
    await fc.assert(
      fc.asyncProperty(notAnObject, async (options) => {
        checkNotObject(await rejectionOf(() => db.run(() => 1, options as never)), 'db.run()');
        checkNotObject(
          await rejectionOf(() => db.transaction(() => 1, options as never)),
          'db.transaction()',
        );
        checkNotObject(await rejectionOf(() => db.query('SELECT 1', [], options as never)), 'db.query()');
        checkNotObject(await rejectionOf(() => db.acquire(() => 1, options as never)), 'acquire()');
      }),
      { numRuns: 50 },
    );
  }, 60_000);

  it('an option inherited from a prototype (a class getter, Object.create) is refused, not silently dropped', async () => {
    await db.query('CREATE TABLE IF NOT EXISTS inherited_option (n INTEGER)');
    class ReadOnlyStep {
      get readOnly(): boolean {
        return true;
      }
    }
    const insert = (options: object) => () =>
      db.query('INSERT INTO inherited_option VALUES (1)', {}, options as { readOnly?: boolean });
    const expected =
      'Expected `readOnly` of db.query() to be an own property of the options; an inherited one would be ignored';
    expect(((await rejectionOf(insert(new ReadOnlyStep()))) as Error).message).toBe(expected);
    expect(((await rejectionOf(insert(Object.create({ readOnly: true })))) as Error).message).toBe(expected);
    const step = () => db.run(() => 1, Object.create({ lockTimeoutMs: 'soon' }));
    expect(((await rejectionOf(step)) as Error).message).toMatch(
      /`lockTimeoutMs` of db.run\(\) to be an own property/,
    );
    const unit = () => db.transaction(() => 1, Object.create({ isolationLevel: 'serializable' }));
    expect(((await rejectionOf(unit)) as Error).message).toMatch(/`isolationLevel` of db.transaction\(\)/);
    expect((await db.query('SELECT count(*) AS n FROM inherited_option')).rows).toEqual([{ n: 0 }]);
    // Own keys of a class instance are options as ever.
    class Named {
      name = 'named';
    }
    expect(await db.run(() => 2, new Named())).toBe(2);
  });

  it("the issue's cases: 42, true, [] or a function as options; { name: null }, { raises: null }", async () => {
    for (const options of [42, true, [], () => 1]) {
      const error = await rejectionOf(() => db.query('SELECT 1', [], options as never));
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(/^Expected the options of db\.query\(\) to be an object/);
    }
    for (const [key, message] of [
      ['name', 'Expected `name` to be a string, got null'],
      ['raises', 'Expected `raises` to be a boolean, got null'],
      ['lockTimeoutMs', undefined],
    ] as const) {
      const error = await rejectionOf(() => db.query('SELECT 1', [], { [key]: null }));
      if (message === undefined) expect(error).toBeUndefined();
      else expect((error as Error).message).toBe(message);
    }
  });
});

describe('db.query(sql, options): options second when the SQL takes no values', () => {
  let db: Database;

  beforeAll(async () => {
    db = await createDatabase({ url: 'sqlite::memory:', maxRetries: 0 });
    await db.query('CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)');
    await db.query("INSERT INTO item (id, name) VALUES (1, 'a')");
  });
  afterAll(async () => {
    await db.close();
  });

  it('reads a bag of run() options as options: readOnly refuses a write, raises: false gives the default', async () => {
    await expect(db.query('INSERT INTO item (id) VALUES (2)', { readOnly: true })).rejects.toThrow(
      /readonly|read-only|attempt to write/i,
    );
    await expect(
      db.query('INSERT INTO item (id) VALUES (1)', { raises: false, default: 'dup', name: 'insert' }),
    ).resolves.toBe('dup');
    expect((await db.query('SELECT count(*) AS n FROM item', { readOnly: true })).rows).toEqual([{ n: 1 }]);
  });

  it('a bag with a :name placeholder in the SQL, or any key that is not an option, stays parameters', async () => {
    expect((await db.query('SELECT :name AS v', { name: 'x' })).rows).toEqual([{ v: 'x' }]);
    expect((await db.query('SELECT id FROM item WHERE id = :id', { id: 1 })).rows).toEqual([{ id: 1 }]);
    // Not all keys are options: parameters (unused ones are ignored, as before).
    expect((await db.query('SELECT 1 AS v', { readOnly: true, id: 1 })).rows).toEqual([{ v: 1 }]);
    const error = await rejectionOf(() => db.query('SELECT 1', { readOnly: 'yes' } as never));
    expect((error as Error).message).toBe('Expected `readOnly` to be a boolean, got "yes"');
  });
});
