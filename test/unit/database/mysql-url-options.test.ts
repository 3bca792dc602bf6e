import { describe, expect, it } from 'vitest';
import { isDbopError } from '../../../src/core/errors.js';
import { mysqlUrlOptions } from '../../../src/database/drivers/mysql-url-options.js';

describe('mysql: and mariadb: URL parameters', () => {
  it('types the supported ones for the drivers', () => {
    expect(mysqlUrlOptions({ charset: 'utf8mb4', timezone: 'Z', ssl: 'true' })).toEqual({
      charset: 'utf8mb4',
      timezone: 'Z',
      ssl: { rejectUnauthorized: true },
    });
    expect(mysqlUrlOptions({ ssl: 'false' })).toEqual({});
  });

  it('refuses multipleStatements and anything unknown, naming it and its position', () => {
    for (const query of [{ multipleStatements: 'true' }, { conectTimeout: '5' }]) {
      let error: unknown;
      try {
        mysqlUrlOptions(query);
      } catch (e) {
        error = e;
      }
      expect(isDbopError(error)).toBe(true);
      expect((error as Error).message).toContain(`\`${Object.keys(query)[0]}\``);
      expect((error as Error).message).toContain('(parameter 1)');
    }
  });

  it('refuses an ssl value it cannot read', () => {
    expect(() => mysqlUrlOptions({ ssl: 'Amazon RDS' })).toThrow(
      'Expected the query parameter `ssl` (parameter 1)',
    );
  });

  it('accepts only known charsets, collations and time zones, so a driver never echoes a value', () => {
    for (const charset of ['utf8mb4', 'UTF8MB4_UNICODE_CI', 'latin1', 'binary']) {
      expect(mysqlUrlOptions({ charset })).toEqual({ charset });
    }
    for (const timezone of ['local', 'Z', '+02:00', 'Europe/Paris', 'auto']) {
      expect(mysqlUrlOptions({ timezone })).toEqual({ timezone });
    }
    for (const query of [{ charset: 'S3cr3tPW' }, { timezone: 'S3cr3tPW' }, { timezone: 'Z;S3cr3tPW' }]) {
      let error: unknown;
      try {
        mysqlUrlOptions(query);
      } catch (e) {
        error = e;
      }
      expect(isDbopError(error, 'DBOP_BAD_URL')).toBe(true);
      expect((error as Error).message).not.toContain('S3cr3tPW');
    }
  });
});
