import { describe, expect, it } from 'vitest';
import { persistentConnection } from '../../../src/pool/persistent-connection.js';
import { steadyConnection } from '../../../src/pool/steady-connection.js';
import { FakeFactory, kill } from './fake-factory.js';

describe('steadyConnection (DBUtils SteadyDB)', () => {
  it('opens lazily and counts usage per statement (test_connection)', async () => {
    const factory = new FakeFactory();
    const db = steadyConnection(factory);
    expect(factory.created).toBe(0);
    await db.query('select 1');
    await db.query('select 2');
    expect(db.usage).toBe(2);
    expect(factory.created).toBe(1);
  });

  it('recycles after maxUsage statements and runs setSession on each new connection (test_connection_maxusage, _setsession)', async () => {
    const factory = new FakeFactory();
    const db = steadyConnection(factory, { maxUsage: 3, setSession: ['set datestyle'] });
    for (let i = 0; i < 7; i++) await db.query(`select ${i}`);
    expect(factory.created).toBe(3);
    expect(db.opened).toBe(3);
    const current = await db.connection();
    expect(current.session).toEqual(['set datestyle', 'select 6']);
    expect(db.usage).toBe(1);
  });

  it('reopens and runs the statement again when the connection is gone outside a transaction (test_broken_connection)', async () => {
    const factory = new FakeFactory();
    const db = steadyConnection(factory, { setSession: ['set x'], ping: 'never' });
    const first = await db.connection();
    first.alive = false;
    expect(await db.query('select 1')).toBe('select 1');
    const second = await db.connection();
    expect(second).not.toBe(first);
    expect(second.session).toEqual(['set x', 'select 1']);
  });

  it('ends a connection whose factory onError() throws, and tells the caller why', async () => {
    const factory = new FakeFactory();
    factory.onError = () => {
      throw new Error('onError exploded');
    };
    const db = steadyConnection(factory);
    await expect(db.query('select 1')).rejects.toThrow('onError exploded');
    expect(factory.created).toBe(1);
    expect(factory.destroyed).toBe(1);
  });

  it('does not retry a non-connection error (test_connection_failure_error)', async () => {
    const factory = new FakeFactory();
    const db = steadyConnection(factory);
    await expect(db.query('error')).rejects.toThrow('syntax error');
    expect(factory.created).toBe(1);
  });

  it('honours `failures`: an error it does not name is thrown without reconnecting (test_connection_failures)', async () => {
    const factory = new FakeFactory();
    const db = steadyConnection(factory, { failures: () => false, ping: 'never' });
    (await db.connection()).alive = false;
    await expect(db.query('select 1')).rejects.toThrow('connection lost');
    expect(factory.created).toBe(1);
  });

  it('inside a transaction reports the lost connection, then starts over on a new one (test_begin_transaction)', async () => {
    const factory = new FakeFactory();
    const db = steadyConnection(factory, { ping: 'never' });
    await db.begin();
    (await db.connection()).alive = false;
    await expect(db.query('select 12')).rejects.toThrow('connection lost');
    expect(db.inTransaction).toBe(false);
    expect(await db.query('select 12')).toBe('select 12');
    expect(factory.created).toBe(2);
  });

  it('a COMMIT or ROLLBACK on a lost connection reconnects and throws (test_commit_error, test_rollback_error)', async () => {
    for (const end of ['commit', 'rollback'] as const) {
      const factory = new FakeFactory();
      const db = steadyConnection(factory, { ping: 'never' });
      await db.begin();
      const first = await db.connection();
      first.alive = false;
      await expect(db[end]()).rejects.toThrow('connection lost');
      await db.begin();
      await db[end]();
      const second = await db.connection();
      expect(second).not.toBe(first);
      expect(second.session).toEqual(['BEGIN', end.toUpperCase()]);
    }
  });

  it('pings on checkout, before statements, both or never, with exact counts (test_connection_ping_check)', async () => {
    const counts: Record<string, number> = {};
    for (const ping of ['checkout', 'statement', 'both', 'never'] as const) {
      const factory = new FakeFactory();
      const db = steadyConnection(factory, { ping });
      await db.connection();
      await db.query('select 1');
      await db.query('select 2');
      counts[ping] = factory.pings;
    }
    expect(counts).toEqual({ checkout: 1, statement: 2, both: 3, never: 0 });
  });

  it('a connection whose error listener heard it die inside a transaction: COMMIT throws, never runs on a new one', async () => {
    for (const next of ['commit', 'statement'] as const) {
      const factory = new FakeFactory();
      const db = steadyConnection(factory, { ping: 'never' });
      await db.begin();
      const first = await db.connection();
      kill(first);
      const attempt = next === 'commit' ? db.commit() : db.query('select 1');
      await expect(attempt).rejects.toThrow('connection lost');
      expect(db.inTransaction).toBe(false);
      expect(factory.created).toBe(1);
      expect(await db.query('select 2')).toBe('select 2');
      expect((await db.connection()).session).toEqual(['select 2']);
    }
  });

  it('replaces a connection that fails its checkout ping', async () => {
    const factory = new FakeFactory();
    const db = steadyConnection(factory);
    const first = await db.connection();
    first.alive = false;
    expect(await db.connection()).not.toBe(first);
  });

  it('close() ends the connection and the next statement opens a new one (test_close)', async () => {
    const factory = new FakeFactory();
    const db = steadyConnection(factory);
    const first = await db.connection();
    await db.close();
    expect(first.alive).toBe(false);
    await db.query('select 1');
    expect(await db.connection()).not.toBe(first);
    expect(factory.created).toBe(2);
  });

  it('validates its options', () => {
    const factory = new FakeFactory();
    expect(() => steadyConnection(factory, { maxUsage: -1 })).toThrow(/`maxUsage`/);
    expect(() => steadyConnection(factory, { ping: 7 as never })).toThrow(/`ping` to be one of/);
    expect(() => steadyConnection(factory, { maxusage: 3 } as never)).toThrow(/Unknown option `maxusage`/);
  });
});

describe('persistentConnection (DBUtils PersistentDB)', () => {
  it('gives each async context its own connection and reuses it inside that context (test_threads, test_threadlocal)', async () => {
    const factory = new FakeFactory();
    const persistent = persistentConnection(factory);
    const seen: number[][] = [];
    await Promise.all(
      [0, 1, 2].map((worker) =>
        persistent.run(async (db) => {
          const ids: number[] = [];
          for (let i = 0; i < 3; i++) {
            await db.query(`select ${worker}`);
            await persistent.run(async (nested) => ids.push((await nested.connection()).id));
            ids.push((await persistent.current().connection()).id);
          }
          seen.push([...new Set(ids)]);
        }),
      ),
    );
    expect(seen.map((ids) => ids.length)).toEqual([1, 1, 1]);
    expect(new Set(seen.flat()).size).toBe(3);
    expect(factory.created).toBe(3);
    expect(factory.destroyed).toBe(3);
    expect(persistent.size).toBe(0);
  });

  it('gives each context a steady connection with the given maxUsage and setSession (test_maxusage, test_setsession)', async () => {
    const factory = new FakeFactory();
    const persistent = persistentConnection(factory, { maxUsage: 2, setSession: ['set a'] });
    await persistent.run(async (db) => {
      for (let i = 0; i < 5; i++) await db.query(`select ${i}`);
      expect((await db.connection()).session).toEqual(['set a', 'select 4']);
    });
    expect(factory.created).toBe(3);
  });

  it('rolls back a transaction a previous step left open before reusing the connection (a DBUtils gap)', async () => {
    const factory = new FakeFactory();
    const persistent = persistentConnection(factory);
    await persistent.run(async (db) => {
      await persistent.run((step) => step.begin());
      await persistent.run(async (step) => {
        expect(step.inTransaction).toBe(false);
        expect((await step.connection()).session).toEqual(['BEGIN', 'ROLLBACK']);
      });
      expect(db.inTransaction).toBe(false);
    });
  });

  it('current() outside run() throws; close() ends every open connection and refuses new runs', async () => {
    const factory = new FakeFactory();
    const persistent = persistentConnection(factory);
    expect(() => persistent.current()).toThrow(/only valid inside run/);
    let release!: () => void;
    const held = persistent.run(async (db) => {
      await db.query('select 1');
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    await new Promise((resolve) => setImmediate(resolve));
    await persistent.close();
    expect(factory.destroyed).toBe(1);
    await expect(persistent.run(() => 1)).rejects.toThrow(/closed/);
    release();
    await held;
  });
});
