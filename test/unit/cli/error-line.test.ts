import { describe, expect, it } from 'vitest';
import { errorLine } from '../../../src/cli/error-line.js';
import { DbopError } from '../../../src/core/errors.js';

describe('errorLine', () => {
  it('keeps only the first line of a driver message: later lines carry the SQL and its values', () => {
    // The shape of a mariadb SqlError with logParam on: the statement and its parameters on line two.
    const error = Object.assign(
      new Error(
        "(conn:7, no: 1146, SQLState: 42S02) Table 'x' doesn't exist\nsql: INSERT INTO x VALUES (?) - parameters:['hunter2']",
      ),
      { code: 'ER_NO_SUCH_TABLE' },
    );
    expect(errorLine(error)).toBe(
      "dbop: ER_NO_SUCH_TABLE (conn:7, no: 1146, SQLState: 42S02) Table 'x' doesn't exist",
    );
  });

  it('redacts passwords in URLs, names an error with no message, and leaves dbop messages as they are', () => {
    expect(errorLine(new Error('cannot reach postgres://app:s3cret@db/x'))).toBe(
      'dbop: cannot reach postgres://app:***@db/x',
    );
    expect(errorLine(Object.assign(new AggregateError([], ''), { code: 'ECONNREFUSED' }))).toBe(
      'dbop: ECONNREFUSED AggregateError',
    );
    expect(errorLine(new DbopError('DBOP_USAGE', 'dbop run: --url is required\nsecond'))).toBe(
      'dbop run: --url is required',
    );
    expect(errorLine('plain\ntext')).toBe('dbop: plain');
  });
});
