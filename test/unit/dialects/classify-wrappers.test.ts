import { describe, expect, it } from 'vitest';
import { classify } from '../../../src/dialects/classify.js';

const deadlock = (): Error =>
  Object.assign(new Error('deadlock detected'), { code: '40P01', severity: 'ERROR', file: 'deadlock.c' });

describe('classify: ORM wrappers', () => {
  // TypeORM's QueryFailedError, Drizzle's DrizzleQueryError, Kysely's and Knex's errors (pool timeout included) are classified as the
  // ORMs really threw them in test/integration/integrations/orm-errors.test.ts; Sequelize's DatabaseError (.parent and
  // .original, the same object) and its acquire timeout in test/integration/integrations/sequelize.test.ts.

  it('SQLAlchemy-style .orig', () => {
    expect(classify(Object.assign(new Error('wrapped'), { orig: deadlock() })).kind).toBe('deadlock');
  });

  it.each([
    ['P2034', 'serialization', 'transaction', true],
    ['P1001', 'connect-failed', 'connection', true],
    ['P1017', 'connection-lost', 'connection', true],
    ['P2024', 'pool-exhausted', 'none', false],
    ['P2028', 'statement-timeout', 'transaction', true],
    ['P2002', 'constraint', 'none', false],
  ] as const)('Prisma %s is %s', (code, kind, scope, retryable) => {
    const e = Object.assign(new Error('prisma'), {
      name: 'PrismaClientKnownRequestError',
      code,
      clientVersion: '6.0.0',
    });
    expect(classify(e)).toMatchObject({ kind, scope, retryable, code });
  });

  it('Prisma initialization errors keep the code in errorCode', () => {
    const e = Object.assign(new Error("Can't reach database server"), {
      name: 'PrismaClientInitializationError',
      errorCode: 'P1001',
      clientVersion: '6.0.0',
    });
    expect(classify(e)).toMatchObject({ kind: 'connect-failed', retryable: true, code: 'P1001' });
  });

  it('Prisma P2010 (raw query failed): the database code in meta wins', () => {
    const e = Object.assign(new Error('Raw query failed. Code: `40001`.'), {
      name: 'PrismaClientKnownRequestError',
      code: 'P2010',
      clientVersion: '6.0.0',
      meta: { code: '40001', message: 'could not serialize access due to concurrent update' },
    });
    expect(classify(e)).toMatchObject({ kind: 'serialization', code: '40001', backend: 'postgres' });
    const mysql = { ...e, meta: { code: '1213', message: 'Deadlock found' } };
    expect(classify(mysql)).toMatchObject({ kind: 'deadlock', code: '1213' });
  });

  it('the innermost structured code wins over outer wrappers (codes and messages)', () => {
    const inner = Object.assign(new Error('x'), { code: '40001' });
    const middle = Object.assign(new Error('Lock wait timeout exceeded'), { code: '55P03', cause: inner });
    expect(classify(new Error('deadlock detected', { cause: middle })).kind).toBe('serialization');
  });
});

describe('classify: Node system errors and AggregateError', () => {
  function systemError(code: string, syscall: string): Error {
    return Object.assign(new Error(`${syscall} ${code}`), { code, errno: -1, syscall });
  }

  it.each([
    ['ECONNREFUSED', 'connect', 'connect-failed'],
    ['ENOTFOUND', 'getaddrinfo', 'connect-failed'],
    ['EHOSTUNREACH', 'connect', 'connect-failed'],
    ['ECONNRESET', 'read', 'connection-lost'],
    ['EPIPE', 'write', 'connection-lost'],
    ['ETIMEDOUT', 'read', 'connection-lost'],
    ['ETIMEDOUT', 'connect', 'connect-failed'],
  ] as const)('%s during %s is %s', (code, syscall, kind) => {
    expect(classify(systemError(code, syscall))).toMatchObject({
      kind,
      retryable: true,
      scope: 'connection',
      code,
    });
  });

  it('does not read a negative system errno as a MySQL number', () => {
    expect(classify(systemError('ECONNRESET', 'read'), { dialect: 'mysql' })).toMatchObject({
      kind: 'connection-lost',
      backend: 'mysql',
    });
  });

  it("classifies Node 20's autoSelectFamily AggregateError (empty message, first error's code)", () => {
    const e = Object.assign(
      new AggregateError(
        [systemError('ECONNREFUSED', 'connect'), systemError('ECONNREFUSED', 'connect')],
        '',
      ),
      { code: 'ECONNREFUSED' },
    );
    expect(classify(e).kind).toBe('connect-failed');
    const bare = new AggregateError([new Error('x'), systemError('ECONNRESET', 'read')], '');
    expect(classify(bare).kind).toBe('connection-lost');
  });

  it('leaves an unknown system code unknown', () => {
    expect(classify(systemError('EACCES', 'open'))).toMatchObject({ kind: 'unknown', retryable: false });
  });
});

describe('classify: cause walking', () => {
  it('survives cycles', () => {
    const a = new Error('a') as Error & { cause?: unknown; parent?: unknown };
    const b = new Error('b', { cause: a }) as Error & { parent?: unknown };
    a.cause = b;
    b.parent = a;
    expect(classify(a)).toMatchObject({ kind: 'unknown' });
    a.parent = deadlock();
    expect(classify(a).kind).toBe('deadlock');
  });

  it('stops at a depth limit', () => {
    let e: Error = deadlock();
    for (let i = 0; i < 20; i++) e = new Error(`wrapper ${i}`, { cause: e });
    expect(classify(e).kind).toBe('unknown');
    let shallow: Error = deadlock();
    for (let i = 0; i < 5; i++) shallow = new Error(`wrapper ${i}`, { cause: shallow });
    expect(classify(shallow).kind).toBe('deadlock');
  });
});
