import { describe, expect, it } from 'vitest';
import { type Session, type SessionSource, wrapStatements } from '../../../src/core/session.js';
import { isFixedOptions } from '../../../src/core/validate.js';
import { countingSession } from '../../../src/database/counting-session.js';
import { postgresSql } from '../../../src/dialects/postgres/postgres-sql.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { DriverSession } from '../../../src/sessions/shared/driver-session.js';

function session(log: string[], id: number): Session {
  return new DriverSession<null>({
    dialect: 'postgres',
    sql: postgresSql(),
    raw: null,
    async query(sql) {
      log.push(`#${id} ${sql}`);
      if (sql.startsWith('FAIL')) throw new Error(`${sql} failed`);
      return { rows: [{ id }], rowCount: 1 };
    },
    async batch(statements) {
      log.push(`#${id} ${statements.join('; ')}`);
      return [];
    },
    destroy() {},
  });
}

function source(log: string[]): SessionSource {
  let n = 0;
  return {
    acquire: async () => session(log, ++n),
    release: async () => {
      log.push('released');
    },
  };
}

// Frozen options are checked and resolved once per runner (db.query's own are): what differs from call
// to call (the connection, the scope, the classifier) must still be each call's own.
describe('runner.statement with frozen options', () => {
  it('each call runs on its own session and keeps its own options, whichever frozen object it got', async () => {
    const runner = new DbOpRunner();
    const log: string[] = [];
    const src = source(log);
    const quiet = Object.freeze({ name: 'quiet', raises: false, default: 'fallback' });
    const other = Object.freeze({ name: 'other', raises: false, default: 'other fallback' });
    const first = await runner.statement(src, (s) => s.query('SELECT 1'), quiet);
    const failed = await runner.statement(src, (s) => s.query('FAIL 1'), quiet);
    const failedOther = await runner.statement(src, (s) => s.query('FAIL 2'), other);
    const again = await runner.statement(src, (s) => s.query('SELECT 2'), quiet);
    expect(first).toEqual({ rows: [{ id: 1 }], rowCount: 1 });
    expect(failed).toBe('fallback');
    expect(failedOther).toBe('other fallback');
    expect(again).toEqual({ rows: [{ id: 4 }], rowCount: 1 });
    // The runner's default lock timeout goes to each fresh connection first.
    expect(log.filter((line) => !line.includes('SET lock_timeout'))).toEqual([
      '#1 SELECT 1',
      'released',
      '#2 FAIL 1',
      'released',
      '#3 FAIL 2',
      'released',
      '#4 SELECT 2',
      'released',
    ]);
  });

  it('a frozen options object with a bad value is refused on every call, not only the first', async () => {
    const runner = new DbOpRunner();
    const bad = Object.freeze({ name: 7 }) as never;
    const log: string[] = [];
    await expect(runner.statement(source(log), (s) => s.query('SELECT 1'), bad)).rejects.toThrow(TypeError);
    await expect(runner.statement(source(log), (s) => s.query('SELECT 1'), bad)).rejects.toThrow(TypeError);
    expect(log).toEqual([]);
  });

  it('frozen options holding a signal and a `default` are fixed, and the signal stays live', async () => {
    const runner = new DbOpRunner();
    const log: string[] = [];
    const controller = new AbortController();
    const options = Object.freeze({ signal: controller.signal, raises: false, default: ['fallback'] });
    expect(isFixedOptions(options)).toBe(true);
    await expect(runner.statement(source(log), (s) => s.query('FAIL 1'), options)).resolves.toBe(
      options.default,
    );
    controller.abort(new Error('stopped'));
    await expect(runner.statement(source(log), (s) => s.query('SELECT 2'), options)).rejects.toThrow(
      'stopped',
    );
    expect(log.filter((line) => line.includes('SELECT') || line.includes('FAIL'))).toEqual(['#1 FAIL 1']);
  });
});

// A frozen object is not a constant when a getter computes a value: Object.freeze fixes the accessor, not
// what it returns. Such options are read on every call, as a plain object's are.
describe('runner calls with frozen options that have a getter', () => {
  it('transaction() honours `raises` and `default` as they are at call time', async () => {
    const runner = new DbOpRunner({ maxRetries: 0 });
    const log: string[] = [];
    let raises = true;
    const options = Object.freeze({
      get raises() {
        return raises;
      },
      default: 'fallback',
    });
    await expect(runner.transaction(source(log), (s) => s.query('FAIL 1'), options)).rejects.toThrow(
      'FAIL 1 failed',
    );
    raises = false;
    await expect(runner.transaction(source(log), (s) => s.query('FAIL 2'), options)).resolves.toBe(
      'fallback',
    );
  });

  it('statement() refuses a value the getter turned bad after a first good call', async () => {
    const runner = new DbOpRunner();
    const log: string[] = [];
    let deadlineMs: unknown = 5000;
    const options = Object.freeze({
      get deadlineMs() {
        return deadlineMs;
      },
    }) as never;
    await expect(runner.statement(source(log), (s) => s.query('SELECT 1'), options)).resolves.toEqual({
      rows: [{ id: 1 }],
      rowCount: 1,
    });
    deadlineMs = -1;
    await expect(runner.statement(source(log), (s) => s.query('SELECT 2'), options)).rejects.toThrow(
      'Expected `deadlineMs` to be',
    );
    expect(log.filter((line) => line.includes('SELECT'))).toEqual(['#1 SELECT 1']);
  });
});

// Per-call options of scope keys only share one resolution of their execute options: an object that
// reads as more than its own keys say (a proxy that serves defaults) must not become that resolution.
describe('runner.transaction with per-call scope-only options', () => {
  it("a proxy's served values stay its own: a later plain { isolationLevel } call still raises", async () => {
    const runner = new DbOpRunner({ maxRetries: 0 });
    const log: string[] = [];
    const defaults: Record<string, unknown> = { raises: false };
    const withDefaults = new Proxy({ isolationLevel: 'serializable' } as Record<string, unknown>, {
      get: (target, key) => (key in target ? target[key as string] : defaults[key as string]),
    });
    await expect(
      runner.transaction(source(log), (s) => s.query('FAIL 1'), withDefaults as never),
    ).resolves.toBeUndefined();
    await expect(
      runner.transaction(source(log), (s) => s.query('FAIL 2'), { isolationLevel: 'serializable' }),
    ).rejects.toThrow('FAIL 2 failed');
  });
});

describe('wrapStatements', () => {
  it('calls the method the session has now, also after it was replaced', async () => {
    const log: string[] = [];
    const real = session(log, 1);
    const seen: string[] = [];
    const wrapped = wrapStatements(real, (name, call, args) => {
      seen.push(name);
      return call(...args);
    });
    await wrapped.query('SELECT 1');
    const original = real.query.bind(real);
    (real as { query: Session['query'] }).query = (sql, params) => original(`/* again */ ${sql}`, params);
    await wrapped.query('SELECT 2');
    expect(log).toEqual(['#1 SELECT 1', '#1 /* again */ SELECT 2']);
    expect(seen).toEqual(['query', 'query']);
    expect(wrapped.inTransaction()).toBe(false);
  });

  it('a counting session records a failure thrown before any promise, and still rejects', async () => {
    const real = session([], 1);
    const boom = new Error('thrown at once');
    (real as { query: Session['query'] }).query = () => {
      throw boom;
    };
    const recorded: unknown[] = [];
    const counted = countingSession(real, (error) => recorded.push(error));
    const result = counted.query('SELECT 1');
    await expect(result).rejects.toBe(boom);
    expect(recorded).toEqual([boom]);
  });
});
