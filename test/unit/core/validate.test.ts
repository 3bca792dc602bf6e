import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyTimeouts } from '../../../src/core/apply-timeouts.js';
import { attemptScope } from '../../../src/core/attempt-scope.js';
import { ConcurrencyLimiter } from '../../../src/core/concurrency-limiter.js';
import { execute } from '../../../src/core/execute.js';
import { RetryBudget } from '../../../src/core/retry-budget.js';
import { retryPolicy } from '../../../src/core/retry-policy.js';
import type { Session } from '../../../src/core/session.js';
import { describeValue, isFixedOptions, maxTimeoutMs } from '../../../src/core/validate.js';
import { postgresSql } from '../../../src/dialects/postgres/postgres-sql.js';
import { withRetry } from '../../../src/retry-decorators.js';
import {
  type BagSpec,
  bagOf,
  boolean,
  budget,
  checkBag,
  checkNotObject,
  func,
  initialDelayMs,
  jitter,
  maxDelayMs,
  maxRetries,
  notAnObject,
  type OptionSpec,
  rejectionOf,
  serverTimeout,
  signal,
  string,
  thrownBy,
  timer,
} from './option-bags.js';

const objectLogger: OptionSpec = {
  valid: fc.constant({ info() {} }),
  junk: fc.constantFrom(null, 0, 'console', true, [], {}, { warn: 1 }),
};
const policy: OptionSpec = {
  valid: fc.constant(retryPolicy({ maxRetries: 0 })),
  junk: fc.constantFrom(null, 0, 'fast', true, [], () => 1),
};
const clock: OptionSpec = {
  valid: fc.constant({ now: () => 0, setTimeout, clearTimeout }),
  junk: fc.constantFrom(null, 0, 'now', true, [], {}, { now: () => 0 }),
};
const retryOn: OptionSpec = {
  valid: fc.constant([TypeError, () => true]),
  junk: fc.constantFrom(null, 0, 'Error', true, {}, [1], [null]),
};

const executeSpec: BagSpec = {
  name: string,
  policy,
  retryOn,
  classifier: func,
  raises: boolean,
  scope: func,
  preAttempt: func,
  readOnly: boolean,
  attemptTimeoutMs: timer,
  deadlineMs: timer,
  signal,
  idempotent: boolean,
  budget,
  onRetry: func,
  onGiveUp: func,
  onSuccess: func,
  logger: objectLogger,
  clock,
  random: func,
};
const withoutDefault: BagSpec = { ...executeSpec, default: { valid: fc.anything() } };
const policySpec: BagSpec = {
  maxRetries,
  initialDelayMs,
  maxDelayMs,
  jitter,
  multiplier: {
    valid: fc.double({ min: 1, max: 10, noNaN: true }),
    junk: fc.constantFrom(null, Number.NaN, 0.5, -1, Number.POSITIVE_INFINITY, '2', true, []),
  },
};
const budgetSpec: BagSpec = {
  ratio: {
    valid: fc.double({ min: 0, max: 5, noNaN: true }),
    junk: fc.constantFrom(null, Number.NaN, -0.1, '0.2', true, [], Number.POSITIVE_INFINITY),
  },
  minRetriesPerSecond: {
    valid: fc.integer({ min: 0, max: 100 }),
    junk: fc.constantFrom(null, Number.NaN, -1, '10', true, {}),
  },
  ttlMs: {
    valid: fc.integer({ min: 1, max: 60_000 }),
    junk: fc.constantFrom(null, Number.NaN, 0, -5, '1000', false, []),
  },
  clock: { valid: fc.constant({ now: () => 0 }), junk: fc.constantFrom(null, 0, 'now', true, [], {}) },
};
const scopeSpec: BagSpec = {
  readOnly: boolean,
  isolationLevel: {
    valid: fc.constantFrom('read committed', 'serializable'),
    junk: fc.constantFrom(null, 'serial', 1, true, []),
  },
  lockTimeoutMs: serverTimeout,
  statementTimeoutMs: serverTimeout,
  cleanupTimeoutMs: timer,
};

function fakeSession(): Session {
  return {
    sql: postgresSql(),
    inTransaction: () => false,
    nextSlot: () => 1,
    batch: async () => [],
    destroyed: false,
  } as unknown as Session;
}

describe('the option validator: random junk never passes and never crashes', () => {
  it('execute(): a bad option rejects with a TypeError naming it; a clean bag runs', async () => {
    await fc.assert(
      fc.asyncProperty(bagOf(withoutDefault), async (bag) => {
        // A clean bag may still fail for its own reasons (a scope that is not a scope): only validation counts.
        const thrown = await rejectionOf(() => execute(() => 1, bag.value));
        if (
          bag.bad.length === 0 &&
          !(thrown instanceof TypeError && /^(Expected|Unknown)/.test(thrown.message))
        )
          return;
        checkBag(bag, thrown);
      }),
      { numRuns: 200 },
    );
    await fc.assert(
      fc.asyncProperty(
        notAnObject.filter((v) => v !== undefined),
        async (options) => {
          checkNotObject(await rejectionOf(() => execute(() => 1, options as never)), 'execute()');
        },
      ),
    );
  }, 60_000);

  it('retryPolicy(), new RetryBudget(), attemptScope(), applyTimeouts(), withRetry()', async () => {
    fc.assert(
      fc.property(bagOf(policySpec), (bag) =>
        checkBag(
          bag,
          thrownBy(() => retryPolicy(bag.value)),
        ),
      ),
      {
        numRuns: 300,
      },
    );
    fc.assert(
      fc.property(bagOf(budgetSpec), (bag) =>
        checkBag(
          bag,
          thrownBy(() => new RetryBudget(bag.value)),
        ),
      ),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(bagOf(scopeSpec), (bag) =>
        checkBag(
          bag,
          thrownBy(() => attemptScope(fakeSession(), bag.value)),
        ),
      ),
      { numRuns: 200 },
    );
    const timeoutSpec = { lockTimeoutMs: serverTimeout, statementTimeoutMs: serverTimeout };
    await fc.assert(
      fc.asyncProperty(bagOf(timeoutSpec), async (bag) =>
        checkBag(bag, await rejectionOf(() => applyTimeouts(fakeSession(), bag.value))),
      ),
      { numRuns: 200 },
    );
    const { raises: _r, ...withRetrySpec } = executeSpec;
    fc.assert(
      fc.property(
        bagOf({
          ...withRetrySpec,
          attempts: {
            valid: fc.integer({ min: 1, max: 5 }),
            junk: fc.constantFrom(null, 0, -1, 1.5, '3', true),
          },
        }),
        (bag) =>
          checkBag(
            bag,
            thrownBy(() => withRetry(async () => 1, bag.value)),
          ),
      ),
      { numRuns: 200 },
    );
    for (const [call, where] of [
      [(o: unknown) => retryPolicy(o as never), 'retryPolicy()'],
      [(o: unknown) => new RetryBudget(o as never), 'new RetryBudget()'],
      [(o: unknown) => attemptScope(fakeSession(), o as never), 'attemptScope()'],
      [(o: unknown) => withRetry(async () => 1, o as never), 'withRetry()'],
    ] as const) {
      fc.assert(
        fc.property(notAnObject, (options) =>
          checkNotObject(
            thrownBy(() => call(options)),
            where,
          ),
        ),
      );
    }
  }, 60_000);
});

describe("Node's timer limit and the servers' caps", () => {
  it('refuses timers past 2^31 - 1 ms, naming the option, instead of firing at once', async () => {
    expect(maxTimeoutMs).toBe(2147483647);
    for (const key of ['attemptTimeoutMs', 'deadlineMs'] as const) {
      for (const value of [1e12, 2 ** 31, 2 ** 53]) {
        const error = await rejectionOf(() => execute(() => 1, { [key]: value }));
        expect(error).toBeInstanceOf(TypeError);
        expect((error as Error).message).toBe(
          `Expected \`${key}\` to be a positive number of milliseconds at most 2147483647 (Node's timer limit; leave it out for no limit), got ${value}`,
        );
      }
      await expect(execute(() => 'ok', { [key]: maxTimeoutMs })).resolves.toBe('ok');
    }
  });

  it('refuses server timeouts past the cap, accepts 0 (no timeout)', () => {
    for (const key of ['lockTimeoutMs', 'statementTimeoutMs'] as const) {
      expect(() => attemptScope(fakeSession(), { [key]: 1e12 })).toThrow(
        `Expected \`${key}\` to be an integer of milliseconds from 0 (no timeout) to 2147483647, got 1000000000000`,
      );
      expect(() => attemptScope(fakeSession(), { [key]: 0 })).not.toThrow();
      expect(() => attemptScope(fakeSession(), { [key]: maxTimeoutMs })).not.toThrow();
    }
  });

  it('a deadline near the cap never sends the server a statement timeout past it', async () => {
    const sent: string[] = [];
    const session = {
      ...fakeSession(),
      dialect: 'postgres',
      raw: null,
      probeTransaction: undefined,
      begin: async (options: { alsoRun?: readonly string[] }) => {
        sent.push(...(options.alsoRun ?? []));
      },
      commit: async () => undefined,
      rollback: async () => undefined,
      busy: false,
    } as unknown as Session;
    await execute(() => 1, { deadlineMs: maxTimeoutMs, scope: () => attemptScope(session) });
    expect(sent).toEqual([`SET LOCAL statement_timeout = ${maxTimeoutMs}`]);
  });

  it('shows long strings by length only', () => {
    expect(describeValue('x'.repeat(41))).toBe('a string of 41 characters');
    expect(describeValue('short')).toBe('"short"');
  });
});

describe('attacker findings on option bags', () => {
  it('refuses maxRetries: Infinity with neither a deadline nor a signal to end it', async () => {
    const policy = retryPolicy({ maxRetries: Number.POSITIVE_INFINITY });
    await expect(execute(() => 1, { policy })).rejects.toThrow(/`deadlineMs` or `signal`.*Infinity/);
    await expect(execute(() => 1, { policy, deadlineMs: 1000 })).resolves.toBe(1);
    await expect(execute(() => 1, { policy, signal: new AbortController().signal })).resolves.toBe(1);
  });

  it('refuses null limiter options, as every other option bag does', () => {
    for (const key of [
      'maxLimit',
      'minLimit',
      'initialLimit',
      'decreaseFactor',
      'tolerance',
      'probeAfter',
      'name',
      'clock',
    ]) {
      expect(() => new ConcurrencyLimiter({ [key]: null } as never), key).toThrow(TypeError);
    }
  });

  it('says how to turn a client-side limit off instead of taking 0', async () => {
    await expect(execute(() => 1, { attemptTimeoutMs: 0 })).rejects.toThrow(/leave it out for no limit/);
    await expect(execute(() => 1, { deadlineMs: 0 })).rejects.toThrow(/leave it out for no limit/);
  });

  it('never echoes a huge unknown key', async () => {
    const key = 'k'.repeat(1_000_000);
    const error = await execute(() => 1, { [key]: 1 } as never).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message.length).toBeLessThan(1000);
    expect((error as Error).message).toContain('a key of 1000000 characters');
  });
});

// A cached resolution is only right while what it was made from cannot change: every object the options
// hold must be frozen too, but for the values used as they are (a signal, a budget, a limiter, `default`).
describe('isFixedOptions', () => {
  it('takes frozen options of primitives, functions and frozen plain objects and arrays as constant', () => {
    expect(isFixedOptions(Object.freeze({ name: 'query', idempotent: true }))).toBe(true);
    expect(isFixedOptions(Object.freeze({ name: 'query', classifier: () => true }))).toBe(true);
    const nested = Object.freeze({
      policy: Object.freeze({ maxRetries: 1 }),
      retryOn: Object.freeze([TypeError]),
      target: Object.freeze({ system: 'postgresql', port: 5432 }),
    });
    expect(isFixedOptions(nested)).toBe(true);
    expect(isFixedOptions(Object.freeze({ policy: retryPolicy() }))).toBe(true);
  });

  it('refuses options that hold an object or array that is not frozen, at any depth', () => {
    expect(isFixedOptions({ name: 'query' })).toBe(false);
    expect(isFixedOptions(Object.freeze({ policy: { maxRetries: 1 } }))).toBe(false);
    expect(isFixedOptions(Object.freeze({ retryOn: [TypeError] }))).toBe(false);
    expect(isFixedOptions(Object.freeze({ clock: Object.freeze({ inner: {} }) }))).toBe(false);
    expect(isFixedOptions(Object.freeze({ clock: Object.freeze(new (class {})()) }))).toBe(false);
    const getter = Object.freeze({
      get maxRetries() {
        return 1;
      },
    });
    expect(isFixedOptions(Object.freeze({ policy: getter }))).toBe(false);
  });

  it('takes a signal, a budget, a limiter and `default` as they are: no resolution reads into them', () => {
    const options = Object.freeze({
      signal: new AbortController().signal,
      budget: new RetryBudget(),
      limiter: new ConcurrencyLimiter(),
      default: [],
    });
    expect(isFixedOptions(options)).toBe(true);
    expect(isFixedOptions(Object.freeze({ target: { system: 'x' }, default: [] }))).toBe(false);
  });

  it('ends on a frozen object that holds itself', () => {
    const self: Record<string, unknown> = {};
    self.self = self;
    Object.freeze(self);
    expect(isFixedOptions(Object.freeze({ target: self }))).toBe(false);
  });
});
