import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DbopError } from '../../../src/core/errors.js';
import { markCancelledByDbop } from '../../../src/dialects/cancel-marker.js';
import { classifierFor, classify, isTransient } from '../../../src/dialects/classify.js';

const pg = (code: string, message = 'x'): Error => Object.assign(new Error(message), { code });

describe("classify: dbop's own errors", () => {
  it.each([
    ['DBOP_ATTEMPT_TIMEOUT', 'attempt-timeout', true, 'statement', false],
    ['DBOP_DEADLINE_EXCEEDED', 'attempt-timeout', false, 'none', false],
    ['DBOP_AMBIGUOUS_COMMIT', 'connection-lost', false, 'connection', true],
    ['DBOP_POOL_TIMEOUT', 'pool-exhausted', false, 'none', false],
  ] as const)('%s is %s', (code, kind, retryable, scope, ambiguous) => {
    expect(classify(new DbopError(code, 'x'))).toMatchObject({ kind, retryable, scope, ambiguous, code });
  });

  it("dbop's verdict wins over the driver error it wraps", () => {
    const e = new DbopError('DBOP_AMBIGUOUS_COMMIT', 'lost during COMMIT', { cause: pg('08006') });
    expect(classify(e)).toMatchObject({ kind: 'connection-lost', ambiguous: true, retryable: false });
  });

  it('looks through a dbop error it has no entry for', () => {
    expect(classify(new DbopError('DBOP_SOMETHING_ELSE', 'x', { cause: pg('40001') })).kind).toBe(
      'serialization',
    );
  });
});

describe('classify: hints', () => {
  it('inFlight commit or write makes a lost connection ambiguous and not retryable', () => {
    for (const inFlight of ['commit', 'write'] as const) {
      for (const code of ['08006', '57P01']) {
        expect(classify(pg(code), { inFlight })).toMatchObject({ ambiguous: true, retryable: false });
      }
      const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' });
      expect(classify(reset, { inFlight })).toMatchObject({ ambiguous: true, retryable: false });
      expect(classify(new Error('Query read timeout'), { inFlight }).ambiguous).toBe(true);
    }
  });

  it('inFlight never makes a connect failure, a read, or a contention error ambiguous', () => {
    expect(classify(pg('08001'), { inFlight: 'commit' }).ambiguous).toBe(false);
    expect(classify(pg('08006'), { inFlight: 'read' })).toMatchObject({ ambiguous: false, retryable: true });
    expect(classify(pg('40001'), { inFlight: 'commit' })).toMatchObject({
      ambiguous: false,
      retryable: true,
    });
  });

  it('cancelledByDbop turns a cancel (57014 user request, 1317, SQLITE_INTERRUPT) into an attempt timeout', () => {
    const cancels = [
      pg('57014', 'canceling statement due to user request'),
      Object.assign(new Error('Query execution was interrupted'), {
        errno: 1317,
        code: 'ER_QUERY_INTERRUPTED',
      }),
      Object.assign(new Error('interrupted'), { code: 'SQLITE_INTERRUPT' }),
    ];
    for (const e of cancels) {
      expect(classify(e)).toMatchObject({ kind: 'cancelled', retryable: false });
      expect(classify(e, { cancelledByDbop: true })).toMatchObject({
        kind: 'attempt-timeout',
        retryable: true,
        scope: 'statement',
      });
    }
  });

  it('a marker set by the session does the same without the hint, also on a wrapped error', () => {
    const e = markCancelledByDbop(pg('57014', 'canceling statement due to user request'));
    expect(classify(e).kind).toBe('attempt-timeout');
    expect(classify(new Error('wrapped', { cause: e })).kind).toBe('attempt-timeout');
    expect(Object.keys(e)).not.toContain('dbop.cancelledByDbop');
  });

  it('the marker never turns a real statement timeout into something else', () => {
    const e = markCancelledByDbop(pg('57014', 'canceling statement due to statement timeout'));
    expect(classify(e).kind).toBe('statement-timeout');
  });
});

describe('classify: robustness', () => {
  it('a TypeError from user code is not transient', () => {
    expect(classify(new TypeError("Cannot read properties of undefined (reading 'x')"))).toEqual({
      kind: 'unknown',
      retryable: false,
      scope: 'none',
      ambiguous: false,
    });
  });

  it.each([undefined, null, 42, 'database is locked', Symbol('x'), () => 1])(
    'non-objects are unknown: %s',
    (v) => {
      expect(classify(v).kind).toBe('unknown');
    },
  );

  it('never throws, even on hostile getters and proxies', () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('boom');
        },
      },
    );
    expect(classify(hostile).kind).toBe('unknown');
    const getter = Object.defineProperty(new Error('x'), 'code', {
      get() {
        throw new Error('boom');
      },
    });
    expect(classify(getter).kind).toBe('unknown');
  });

  it('never throws and always returns a consistent verdict for arbitrary input', () => {
    fc.assert(
      fc.property(
        fc.anything({ withObjectString: true, withNullPrototype: true }),
        fc.constantFrom(undefined, 'postgres', 'mysql', 'mariadb', 'sqlite', 'cockroach'),
        (value, dialect) => {
          const c = dialect === undefined ? classify(value) : classify(value, { dialect });
          if (c.kind === 'unknown') expect(c.retryable).toBe(false);
          if (c.ambiguous) expect(c.retryable).toBe(false);
          expect(Object.isFrozen(c)).toBe(true);
        },
      ),
    );
  });

  it('ignores invalid options instead of throwing', () => {
    // @ts-expect-error: an invalid dialect from untyped code
    expect(classify(pg('40001'), { dialect: 'oracle' }).kind).toBe('serialization');
  });

  it('isTransient is classify().retryable', () => {
    expect(isTransient(pg('40001'))).toBe(true);
    expect(isTransient(pg('23505'))).toBe(false);
    expect(isTransient(new Error('nope'))).toBe(false);
  });
});

describe('classifierFor', () => {
  it('binds validated options', () => {
    const forMariadb = classifierFor({ dialect: 'mariadb' });
    expect(forMariadb(Object.assign(new Error('x'), { errno: 3024 })).kind).toBe('unknown');
    expect(classifierFor({ dialect: 'mysql' })(Object.assign(new Error('x'), { errno: 3024 })).kind).toBe(
      'statement-timeout',
    );
  });

  it('rejects bad options with precise TypeErrors', () => {
    // @ts-expect-error: invalid on purpose
    expect(() => classifierFor({ dialect: 'oracle' })).toThrow(
      'Expected `dialect` to be one of postgres, mysql, mariadb, sqlite, cockroach, got oracle',
    );
    // @ts-expect-error: invalid on purpose
    expect(() => classifierFor({ dialekt: 'postgres' })).toThrow('Unknown classify option `dialekt`');
    // @ts-expect-error: invalid on purpose
    expect(() => classifierFor({ inFlight: 'rollback' })).toThrow(
      'Expected `inFlight` to be one of commit, write, read',
    );
    // @ts-expect-error: invalid on purpose
    expect(() => classifierFor({ cancelledByDbop: 'yes' })).toThrow(
      'Expected `cancelledByDbop` to be a boolean, got yes',
    );
  });
});
