import { describe, expect, it } from 'vitest';
import { isDbopError } from '../../../src/core/errors.js';
import { mysqlUrlOptions } from '../../../src/database/drivers/mysql-url-options.js';

const url = 'mysql://app:***@db:3306/shop';

describe('mysql: and mariadb: URL parameters', () => {
  it('types the supported ones for the drivers', () => {
    expect(mysqlUrlOptions({ charset: 'utf8mb4', timezone: 'Z', ssl: 'true' }, url)).toEqual({
      charset: 'utf8mb4',
      timezone: 'Z',
      ssl: { rejectUnauthorized: true },
    });
    expect(mysqlUrlOptions({ ssl: 'false' }, url)).toEqual({});
  });

  it('refuses multipleStatements and anything unknown, naming it, with the password redacted', () => {
    for (const query of [{ multipleStatements: 'true' }, { conectTimeout: '5' }]) {
      let error: unknown;
      try {
        mysqlUrlOptions(query, url);
      } catch (e) {
        error = e;
      }
      expect(isDbopError(error)).toBe(true);
      expect((error as Error).message).toContain(`\`${Object.keys(query)[0]}\``);
      expect((error as Error).message).toContain(url);
    }
  });

  it('refuses an ssl value it cannot read', () => {
    expect(() => mysqlUrlOptions({ ssl: 'Amazon RDS' }, url)).toThrow('Expected `ssl`');
  });
});
