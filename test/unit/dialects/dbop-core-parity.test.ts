import { describe, expect, it } from 'vitest';
import { isTransient } from '../../../src/dialects/classify.js';

/**
 * Every case of dbop-core's dbapi_classifier tests (tests/test_classifier_dbapi.py, test_classify.py,
 * test_classify_more.py), translated from Python's shapes to the JS drivers': `pgcode` -> `code`,
 * `args=(errno, msg)` -> `errno` + message, `exc.orig` -> `orig`, exception class -> `name`.
 */
function named(name: string, message: string, fields: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { name, ...fields });
}

describe('dbop-core dbapi_classifier parity: transient', () => {
  it.each([
    ['pg deadlock by code (pgcode 40P01, orig None)', { code: '40P01', orig: null }],
    [
      'MySQL errno 1213 on orig',
      Object.assign(new Error('wrapper'), { orig: { errno: 1213, message: 'Deadlock found' } }),
    ],
    ['SQLite "database is locked" from a custom class', named('E', 'database is locked')],
    ['OperationalError(1213, ...)', named('OperationalError', 'mysql transient', { errno: 1213 })],
    ['OperationalError(1205, ...)', named('OperationalError', 'mysql transient', { errno: 1205 })],
    ['message "database is locked"', new Error('database is locked')],
    ['message "Deadlock found when trying to get lock"', new Error('Deadlock found when trying to get lock')],
    ['message "Lock wait timeout exceeded"', new Error('Lock wait timeout exceeded')],
    ['pg message statement timeout', new Error('canceling statement due to statement timeout')],
    ['pg message "deadlock detected"', new Error('deadlock detected')],
    ['pg message lock timeout', new Error('canceling statement due to lock timeout')],
    [
      'errno 2006 on orig (server has gone away)',
      Object.assign(new Error('wrapper'), { orig: { errno: 2006, message: 'server has gone away' } }),
    ],
    [
      'OpErr(2013, ...) read from its own errno',
      named('OpErr', 'lost connection during query', { errno: 2013 }),
    ],
    ['message "NOWAIT is set"', new Error('NOWAIT is set')],
    ['OperationalError("connection reset by peer")', named('OperationalError', 'connection reset by peer')],
    [
      'timeout text with an OperationalError orig',
      Object.assign(new Error('timeout while waiting'), { orig: named('OperationalError', 'inner') }),
    ],
  ] as const)('%s', (_label, error) => {
    expect(isTransient(error)).toBe(true);
  });
});

describe('dbop-core dbapi_classifier parity: not transient', () => {
  it.each([
    ['syntax error message (custom class)', named('E', 'syntax error at or near SELECT')],
    ['syntax error message (plain Error)', new Error('syntax error at or near SELECT')],
    ['a timeout text without an operational name', new Error('timeout while waiting')],
    ['an operational name without a trigger word', named('OperationalError', 'no such column: x')],
    ['a TypeError from user code', new TypeError('x is not a function')],
  ] as const)('%s', (_label, error) => {
    expect(isTransient(error)).toBe(false);
  });
});
