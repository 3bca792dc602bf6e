import { afterEach, describe, expect, it, vi } from 'vitest';
import { execute } from '../../../src/core/execute.js';
import { retryPolicy } from '../../../src/core/retry-policy.js';
import { withRetry } from '../../../src/retry-decorators.js';

afterEach(() => {
  vi.unstubAllEnvs();
});

// The shape mariadb's connector gives with its default logParam: the SQL and its values after the first line.
const leaky = Object.assign(
  new Error(
    "(conn:7, no: 1205, SQLState: HY000) Lock wait timeout exceeded; try restarting transaction\nsql: UPDATE users SET password=? WHERE id=? - parameters:['hunter2-SECRET',1]",
  ),
  { errno: 1205, sqlState: 'HY000', code: 'ER_LOCK_WAIT_TIMEOUT' },
);

describe('secrets in logs (R3)', () => {
  it('logs only the first line of a driver error, never the parameters after it', async () => {
    const lines: unknown[] = [];
    const record = (obj: unknown, msg: string): void => {
      lines.push({ obj, msg });
    };
    const logger = { warn: record, error: record, info: record };
    const policy = retryPolicy({ maxRetries: 1, initialDelayMs: 0, maxDelayMs: 0 });
    await expect(
      execute(
        () => {
          throw leaky;
        },
        { name: 'save', policy, logger, classifier: () => true },
      ),
    ).rejects.toBe(leaky);
    expect(lines).toHaveLength(2);
    const text = JSON.stringify(lines);
    expect(text).toContain('Lock wait timeout exceeded');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('parameters');
  });
});

describe('withRetry reads the environment at call time', () => {
  it('rejects, never throws synchronously, when DBOP_RETRIES turns bad after wrapping', async () => {
    const wrapped = withRetry(async () => 1);
    vi.stubEnv('DBOP_RETRIES', 'lots');
    let promise: Promise<number> | undefined;
    expect(() => {
      promise = wrapped();
    }).not.toThrow();
    await expect(promise).rejects.toThrow('Expected env DBOP_RETRIES to be a positive integer');
  });

  it("logs the innermost driver error's first line, not an ORM wrapper's (SQL, or SQL with values)", async () => {
    const driver = Object.assign(new Error('deadlock detected'), {
      name: 'error',
      code: '40P01',
      severity: 'ERROR',
    });
    const wrappers = [
      // Drizzle: the SQL and its values on the wrapper, the driver error as cause.
      Object.assign(new Error('Failed query: UPDATE users SET password = $1\nparams: hunter2-SECRET'), {
        name: 'DrizzleQueryError',
        cause: driver,
      }),
      // Sequelize: `parent` and `original`.
      Object.assign(new Error("UPDATE users SET password = 'hunter2-SECRET'"), {
        name: 'SequelizeDatabaseError',
        parent: driver,
        original: driver,
      }),
      // TypeORM: `driverError`.
      Object.assign(new Error("UPDATE users SET password = 'hunter2-SECRET' - deadlock"), {
        name: 'QueryFailedError',
        driverError: driver,
      }),
    ];
    for (const wrapper of wrappers) {
      const lines: { obj: { error?: unknown } }[] = [];
      const record = (obj: object): void => {
        lines.push({ obj });
      };
      await execute(
        () => {
          throw wrapper;
        },
        {
          policy: retryPolicy({ maxRetries: 1, initialDelayMs: 0, maxDelayMs: 0 }),
          logger: { warn: record, error: record },
          classifier: () => true,
        },
      ).catch(() => undefined);
      expect(lines.map((line) => line.obj.error)).toEqual([
        'error: deadlock detected',
        'error: deadlock detected',
      ]);
      expect(JSON.stringify(lines)).not.toContain('hunter2');
    }
  });

  it("keeps dbop's own errors as they are (a deadline says more than its cause)", async () => {
    const lines: { obj: { error?: unknown } }[] = [];
    const record = (obj: object): void => {
      lines.push({ obj });
    };
    await execute(() => new Promise(() => undefined), { deadlineMs: 20, logger: { error: record } }).catch(
      () => undefined,
    );
    expect(String(lines[0]?.obj.error)).toMatch(/^(DeadlineExceededError|AttemptTimeoutError)/);
  });
});
