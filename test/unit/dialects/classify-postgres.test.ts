import { describe, expect, it } from 'vitest';
import { classify, isTransient } from '../../../src/dialects/classify.js';

/** The fields node-postgres' DatabaseError (and PGlite's) carries; the class itself is not needed. */
function pgError(code: string, message = 'boom', extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), {
    name: 'error',
    code,
    severity: 'ERROR',
    file: 'postgres.c',
    ...extra,
  });
}

describe('classify: PostgreSQL SQLSTATEs', () => {
  it.each([
    ['40001', 'serialization', 'transaction', true],
    ['40P01', 'deadlock', 'transaction', true],
    ['55P03', 'lock-timeout', 'statement', true],
    ['57P01', 'server-shutdown', 'connection', true],
    ['57P02', 'connection-lost', 'connection', true],
    ['57P03', 'server-starting', 'connection', true],
    ['57P05', 'connection-lost', 'connection', true],
    ['53300', 'too-many-connections', 'connection', true],
    ['08001', 'connect-failed', 'connection', true],
    ['08004', 'connect-failed', 'connection', true],
    ['08006', 'connection-lost', 'connection', true],
    ['08000', 'connection-lost', 'connection', true],
    ['08003', 'connection-lost', 'connection', true],
    ['25006', 'read-only', 'none', false],
    ['25P02', 'unknown', 'none', false],
    ['25P03', 'connection-lost', 'connection', true],
    ['25P04', 'connection-lost', 'connection', true],
    ['23505', 'constraint', 'none', false],
    ['23503', 'constraint', 'none', false],
    ['42601', 'syntax', 'none', false],
    ['42P01', 'syntax', 'none', false],
    ['28P01', 'auth', 'none', false],
  ] as const)('%s is %s at %s scope', (code, kind, scope, retryable) => {
    const c = classify(pgError(code));
    expect(c).toMatchObject({ kind, scope, retryable, ambiguous: false, backend: 'postgres', code });
  });

  it('checks 42501 before the 42 class: insufficient privilege is auth, not syntax', () => {
    expect(classify(pgError('42501')).kind).toBe('auth');
    expect(classify(pgError('42502')).kind).toBe('syntax');
  });

  it('tells a statement timeout from a user cancel by the text of 57014', () => {
    const timeout = pgError('57014', 'canceling statement due to statement timeout');
    const cancel = pgError('57014', 'canceling statement due to user request');
    expect(classify(timeout)).toMatchObject({
      kind: 'statement-timeout',
      retryable: true,
      scope: 'statement',
    });
    expect(classify(cancel)).toMatchObject({ kind: 'cancelled', retryable: false, scope: 'statement' });
  });

  it('counts a localized 57014 as a statement timeout (dbop sets statement_timeout itself)', () => {
    const german = pgError('57014', 'storniere Anfrage wegen Zeitüberschreitung der Anweisung');
    expect(classify(german).kind).toBe('statement-timeout');
  });

  it('marks 08007 (transaction resolution unknown) ambiguous and not retryable', () => {
    expect(classify(pgError('08007'))).toMatchObject({
      kind: 'connection-lost',
      ambiguous: true,
      retryable: false,
    });
  });

  it('labels codes it has no entry for as unknown, keeping code and backend for metrics', () => {
    expect(classify(pgError('22012', 'division by zero'))).toEqual({
      kind: 'unknown',
      retryable: false,
      scope: 'none',
      ambiguous: false,
      backend: 'postgres',
      code: '22012',
    });
  });

  it('returns the same frozen object for the same code (no allocation on the hot path)', () => {
    const first = classify(pgError('40001'));
    expect(classify(pgError('40001'))).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
  });
});

describe('classify: CockroachDB', () => {
  it('detects CockroachDB by its Go source file and marks 40003 ambiguous', () => {
    const crdb = pgError('40003', 'result is ambiguous', { file: 'conn_executor_exec.go' });
    expect(classify(crdb)).toMatchObject({ backend: 'cockroach', kind: 'connection-lost', ambiguous: true });
    expect(classify(crdb).retryable).toBe(false);
  });

  it('treats 40001 "restart transaction" as a transaction-scope serialization failure', () => {
    const c = classify(pgError('40001', 'restart transaction: TransactionRetryWithProtoRefreshError'), {
      dialect: 'cockroach',
    });
    expect(c).toMatchObject({
      backend: 'cockroach',
      kind: 'serialization',
      scope: 'transaction',
      retryable: true,
    });
  });

  it('falls back to the Postgres table for other codes', () => {
    expect(classify(pgError('40P01'), { dialect: 'cockroach' })).toMatchObject({
      kind: 'deadlock',
      backend: 'cockroach',
    });
  });
});

describe('classify: postgres.js', () => {
  /** The shape of postgres.js's Errors.connection(): code and errno are both the string. */
  function pgjsConnection(code: string): Error {
    return Object.assign(new Error(`write ${code} 127.0.0.1:5432`), {
      code,
      errno: code,
      address: '127.0.0.1',
      port: 5432,
    });
  }

  it.each([
    ['CONNECTION_CLOSED', 'connection-lost', true],
    ['CONNECT_TIMEOUT', 'connect-failed', true],
    ['CONNECTION_ENDED', 'connection-lost', false],
    ['CONNECTION_DESTROYED', 'connection-lost', false],
  ] as const)('%s is %s, retryable %s', (code, kind, retryable) => {
    expect(classify(pgjsConnection(code))).toMatchObject({ kind, retryable, backend: 'postgres', code });
  });

  it("classifies postgres.js's own 57014 for a cancelled queued query as a cancel", () => {
    const e = Object.assign(new Error('57014: canceling statement due to user request'), { code: '57014' });
    expect(classify(e).kind).toBe('cancelled');
  });

  it('reads PostgresError fields the same way as pg', () => {
    class PostgresError extends Error {}
    const e = Object.assign(new PostgresError('deadlock detected'), {
      code: '40P01',
      severity: 'ERROR',
      routine: 'x',
    });
    expect(isTransient(e)).toBe(true);
  });
});

describe('classify: node-postgres and pg-pool errors without a code', () => {
  it.each([
    ['Connection terminated unexpectedly', 'connection-lost', true],
    ['Connection terminated', 'connection-lost', true],
    ['timeout expired', 'connect-failed', true],
    ['Connection terminated due to connection timeout', 'connect-failed', true],
    ['Client has encountered a connection error and is not queryable', 'connection-lost', true],
    ['Client was closed and is not queryable', 'connection-lost', false],
    ['timeout exceeded when trying to connect', 'pool-exhausted', false],
    ['Query read timeout', 'statement-timeout', true],
  ] as const)('"%s" is %s', (message, kind, retryable) => {
    expect(classify(new Error(message))).toMatchObject({ kind, retryable, backend: 'postgres' });
  });

  it('gives a client-side query timeout connection scope: the statement still runs on the server', () => {
    expect(classify(new Error('Query read timeout')).scope).toBe('connection');
  });

  it("prefers pg-pool's wrapper text over the cause it wraps", () => {
    const e = new Error('Connection terminated due to connection timeout', {
      cause: new Error('Connection terminated'),
    });
    expect(classify(e).kind).toBe('connect-failed');
  });

  it('does not match pg texts inside longer messages', () => {
    expect(classify(new Error('Connection terminated by the user on purpose')).kind).toBe('unknown');
  });
});
