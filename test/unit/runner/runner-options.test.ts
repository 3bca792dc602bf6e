import { describe, expect, it } from 'vitest';
import { attemptScope } from '../../../src/core/attempt-scope.js';
import { ConcurrencyLimiter } from '../../../src/core/concurrency-limiter.js';
import { DbopError } from '../../../src/core/errors.js';
import { postgresSql } from '../../../src/dialects/postgres/postgres-sql.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { DriverSession } from '../../../src/sessions/shared/driver-session.js';

/** `open`: a transaction the caller began; the driver reports the state as its BEGIN and COMMIT leave it. */
function session(open = false) {
  let inTransaction = open;
  return new DriverSession<null>({
    dialect: 'postgres',
    sql: postgresSql(),
    raw: null,
    query: async () => ({ rows: [], rowCount: 0 }),
    batch: async (statements) => {
      for (const statement of statements) {
        if (statement.startsWith('BEGIN')) inTransaction = true;
        if (statement === 'COMMIT' || statement === 'ROLLBACK') inTransaction = false;
      }
      return [];
    },
    inTransaction: () => inTransaction,
    destroy() {},
  });
}

describe('DbOpRunner options', () => {
  it('validates logger and budget at construction', () => {
    expect(() => new DbOpRunner({ logger: 'console' as never })).toThrow(
      'Expected `logger` to be a pino-style logger (debug, info, warn, error methods), got "console"',
    );
    expect(() => new DbOpRunner({ logger: { warn: 1 } as never })).toThrow(/Expected `logger`/);
    expect(() => new DbOpRunner({ logger: {} as never })).toThrow(/Expected `logger`/);
    expect(() => new DbOpRunner({ budget: { tryRetry: () => true } as never })).toThrow(
      'Expected `budget` to be a RetryBudget, got an object',
    );
    expect(() => new DbOpRunner({ logger: { warn() {} } })).not.toThrow();
  });

  it('takes a shared limiter (false: none) and admits each transaction through it, nested steps not again', async () => {
    expect(() => new DbOpRunner({ limiter: 3 as never })).toThrow(
      'Expected `limiter` to be a ConcurrencyLimiter or false, got 3',
    );
    expect(new DbOpRunner({ limiter: false }).limiter).toBeUndefined();
    const limiter = new ConcurrencyLimiter({ maxLimit: 1 });
    const runner = new DbOpRunner({ limiter });
    const blocker = limiter.tryAcquire()!;
    let ran = false;
    const queued = runner.transaction(session(), async (s) => {
      ran = true;
      // The step is nested in the transaction's permit: at limit 1 it must not wait for a second one.
      return runner.run(s, () => 'step');
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(ran).toBe(false);
    expect(limiter.stats().queued).toBe(1);
    blocker.release('success');
    expect(await queued).toBe('step');
    expect(limiter.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('run() and transaction() reject, never throw, on bad options and an open transaction', async () => {
    const runner = new DbOpRunner();
    const calls: (() => Promise<unknown>)[] = [
      () => runner.run(session(), () => 1, { lockTimeout: 5 } as never),
      () => runner.run(session(), () => 1, { lockTimeoutMs: -1 }),
      () => runner.run(session(), () => 1, { readOnly: 'yes' as never }),
      () => runner.transaction(session(), () => 1, { isolationLevel: 'snapshot' as never }),
      () => runner.transaction(session(true), () => 1),
    ];
    for (const call of calls) {
      let result: Promise<unknown> | undefined;
      expect(() => {
        result = call();
      }).not.toThrow();
      await expect(result).rejects.toBeInstanceOf(Error);
    }
    await expect(runner.transaction(session(true), () => 1)).rejects.toBeInstanceOf(DbopError);
  });

  it('attemptScope validates readOnly and rejects unknown keys', () => {
    expect(() => attemptScope(session(), { readOnly: 1 as never })).toThrow(
      'Expected `readOnly` to be a boolean, got 1',
    );
    expect(() => attemptScope(session(), { readonly: true } as never)).toThrow(
      'Unknown option `readonly` of attemptScope()',
    );
  });
});

describe('DbOpRunner.run given something other than a session', () => {
  it('names the mistake: a SessionSource (a pool) goes to transaction(); anything else is not a Session', async () => {
    const runner = new DbOpRunner();
    const source = { acquire: async () => session(), release: () => undefined };
    await expect(runner.run(source as never, () => 1)).rejects.toThrow(
      'Expected the session of run() to be a Session, got a SessionSource: pass it to transaction(), which takes a session from it for each attempt',
    );
    await expect(runner.run(undefined as never, () => 1)).rejects.toThrow(
      'Expected the session of run() to be a Session, got undefined',
    );
    await expect(runner.run({} as never, () => 1)).rejects.toThrow(
      'Expected the session of run() to be a Session, got an object',
    );
  });
});
