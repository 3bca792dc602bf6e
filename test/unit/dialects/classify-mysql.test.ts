import { describe, expect, it } from 'vitest';
import { classify } from '../../../src/dialects/classify.js';

/** mysql2's server error: string `code` name (undefined for MariaDB-only numbers), numeric `errno`. */
function mysql2Error(errno: number, code?: string, message = 'boom'): Error {
  return Object.assign(new Error(message), {
    code,
    errno,
    sqlState: 'HY000',
    sqlMessage: message,
    fatal: undefined,
  });
}

/** The mariadb connector's SqlError. */
function sqlError(errno: number, code: string, fatal = false): Error {
  return Object.assign(new Error(`(conn:1, no: ${errno}, SQLState: HY000) boom`), {
    name: 'SqlError',
    errno,
    code,
    sqlState: 'HY000',
    fatal,
    sqlMessage: 'boom',
  });
}

describe('classify: MySQL-family numbers', () => {
  it.each([
    [1213, 'deadlock', 'transaction', true],
    [1205, 'lock-timeout', 'statement', true],
    [1317, 'cancelled', 'statement', false],
    [1040, 'too-many-connections', 'connection', true],
    [1203, 'too-many-connections', 'connection', true],
    [1053, 'server-shutdown', 'connection', true],
    [1290, 'read-only', 'none', false],
    [1836, 'read-only', 'none', false],
    [1792, 'read-only', 'none', false],
    [1047, 'server-starting', 'connection', true],
    [1305, 'unknown', 'transaction', false],
    [1062, 'constraint', 'none', false],
    [1064, 'syntax', 'none', false],
    [1045, 'auth', 'none', false],
  ] as const)('%i is %s at %s scope', (errno, kind, scope, retryable) => {
    expect(classify(mysql2Error(errno, 'ER_X'))).toMatchObject({
      kind,
      scope,
      retryable,
      code: String(errno),
    });
  });

  it('reports the flavor it was told, or mysql when nothing says MariaDB', () => {
    expect(classify(mysql2Error(1213)).backend).toBe('mysql');
    expect(classify(mysql2Error(1213), { dialect: 'mariadb' }).backend).toBe('mariadb');
    expect(classify(sqlError(1213, 'ER_LOCK_DEADLOCK')).backend).toBe('mariadb');
  });

  it('1226 is too-many-connections only for max_user_connections, not for hourly quotas', () => {
    const connections = mysql2Error(
      1226,
      'ER_USER_LIMIT_REACHED',
      "User 'u' has exceeded the 'max_user_connections' resource",
    );
    const questions = mysql2Error(
      1226,
      'ER_USER_LIMIT_REACHED',
      "User 'u' has exceeded the 'max_questions' resource",
    );
    expect(classify(connections)).toMatchObject({ kind: 'too-many-connections', retryable: true });
    expect(classify(questions)).toMatchObject({ kind: 'unknown', retryable: false, code: '1226' });
  });

  it('labels an unknown number with its code and flavor', () => {
    expect(classify(mysql2Error(1146 + 10_000))).toMatchObject({
      kind: 'unknown',
      backend: 'mysql',
      code: '11146',
    });
  });
});

describe('classify: per-flavor numbers (C2)', () => {
  it('3024 is a MySQL statement timeout and nothing on MariaDB', () => {
    const e = mysql2Error(3024, 'ER_QUERY_TIMEOUT');
    expect(classify(e, { dialect: 'mysql' })).toMatchObject({ kind: 'statement-timeout', retryable: true });
    expect(classify(e)).toMatchObject({ kind: 'statement-timeout', backend: 'mysql' });
    expect(classify(e, { dialect: 'mariadb' })).toMatchObject({ kind: 'unknown', retryable: false });
  });

  it('4031 is a MySQL idle disconnect, never a timeout, and nothing on MariaDB', () => {
    const unsolicited = Object.assign(
      new Error('The client was disconnected by the server because of inactivity.'),
      {
        code: 4031,
        fatal: true,
      },
    );
    expect(classify(unsolicited)).toMatchObject({
      kind: 'connection-lost',
      scope: 'connection',
      backend: 'mysql',
    });
    expect(classify(unsolicited, { dialect: 'mysql' }).kind).toBe('connection-lost');
    expect(classify(unsolicited, { dialect: 'mariadb' }).kind).toBe('unknown');
    for (const dialect of ['mysql', 'mariadb'] as const) {
      expect(classify(unsolicited, { dialect }).kind).not.toMatch(/timeout/);
    }
  });

  it("does not take MariaDB's 4031 (a trigger DDL error) for a disconnect when the flavor is unknown", () => {
    expect(classify(sqlError(4031, 'ER_REFERENCED_TRG_DOES_NOT_EXIST')).kind).toBe('unknown');
    expect(classify(mysql2Error(4031)).kind).toBe('unknown');
  });

  it('1969 is a MariaDB statement timeout, even through mysql2 which gives it no code name', () => {
    expect(classify(mysql2Error(1969))).toMatchObject({ kind: 'statement-timeout', backend: 'mariadb' });
    expect(classify(mysql2Error(1969), { dialect: 'mysql' }).kind).toBe('unknown');
  });

  it('1927 (connection killed) is MariaDB connection loss', () => {
    expect(classify(sqlError(1927, 'ER_CONNECTION_KILLED', true))).toMatchObject({ kind: 'connection-lost' });
  });
});

describe('classify: mysql2 client errors', () => {
  it('PROTOCOL_CONNECTION_LOST is connection loss', () => {
    const e = Object.assign(new Error('Connection lost: The server closed the connection.'), {
      code: 'PROTOCOL_CONNECTION_LOST',
      fatal: true,
    });
    expect(classify(e)).toMatchObject({ kind: 'connection-lost', scope: 'connection', retryable: true });
  });

  it('reads a numeric `code` (unsolicited server error) as the errno', () => {
    const e = Object.assign(new Error('Server shutdown in progress'), { code: 1053, fatal: true });
    expect(classify(e)).toMatchObject({ kind: 'server-shutdown', code: '1053' });
  });

  it('classifies the closed-state message that carries no code', () => {
    const e = new Error("Can't add new command when connection is in closed state");
    expect(classify(e)).toMatchObject({ kind: 'connection-lost', retryable: true });
  });

  it('counts the connect timeout (code ETIMEDOUT, "connect ETIMEDOUT", no syscall) as connect-failed', () => {
    const e = Object.assign(new Error('connect ETIMEDOUT'), {
      code: 'ETIMEDOUT',
      errorno: 'ETIMEDOUT',
      fatal: true,
    });
    expect(classify(e).kind).toBe('connect-failed');
  });

  it('gives the client-side `timeout` option connection scope', () => {
    const e = Object.assign(new Error('Query inactivity timeout'), {
      code: 'PROTOCOL_SEQUENCE_TIMEOUT',
      fatal: true,
    });
    expect(classify(e)).toMatchObject({ kind: 'statement-timeout', scope: 'connection' });
  });
});

describe('classify: mariadb connector client codes (45xxx)', () => {
  it.each([
    [45009, 'ER_SOCKET_UNEXPECTED_CLOSE', 'connection-lost', true],
    [45012, 'ER_CONNECTION_TIMEOUT', 'connect-failed', true],
    [45013, 'ER_CMD_CONNECTION_CLOSED', 'connection-lost', true],
    [45026, 'ER_SOCKET_TIMEOUT', 'connection-lost', true],
    [45028, 'ER_GET_CONNECTION_TIMEOUT', 'pool-exhausted', false],
  ] as const)('%i %s is %s', (errno, code, kind, retryable) => {
    expect(classify(sqlError(errno, code, true))).toMatchObject({ kind, retryable, backend: 'mariadb' });
  });
});
