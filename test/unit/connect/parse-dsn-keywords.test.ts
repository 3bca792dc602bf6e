import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isDsnMultihost } from '../../../src/connect/is-dsn-multihost.js';
import { parseDsn } from '../../../src/connect/parse-dsn.js';

describe("parseDsn: libpq's keyword/value form", () => {
  it('reads several hosts with one port each, and the other keywords', () => {
    const dsn = parseDsn(
      "host=db1,db2 port=5432,5433 dbname=shop user=app password='it\\'s' target_session_attrs=read-write",
    );
    expect(dsn).toMatchObject({
      scheme: 'postgres',
      driver: 'pg',
      hosts: [
        { host: 'db1', port: 5432 },
        { host: 'db2', port: 5433 },
      ],
      user: 'app',
      database: 'shop',
      query: { target_session_attrs: 'read-write' },
    });
    expect(dsn.password).toBe("it's");
    expect(dsn.redacted).toBe('postgres://app:***@db1:5432,db2:5433/shop?target_session_attrs=read-write');
    expect(isDsnMultihost('host=a,b dbname=x')).toBe(true);
  });

  it('one port for every host; quoted values with escapes; spaces around =', () => {
    const dsn = parseDsn("host = a,b,c port=6432 password = 'p w\\'d\\\\' sslmode=require");
    expect(dsn.hosts).toEqual([
      { host: 'a', port: 6432 },
      { host: 'b', port: 6432 },
      { host: 'c', port: 6432 },
    ]);
    expect(dsn.password).toBe("p w'd\\");
    expect(dsn.query).toEqual({ sslmode: 'require' });
    expect(parseDsn('dbname=x').hosts).toEqual([{ host: 'localhost' }]);
  });

  it('refuses what libpq would, naming the keyword or position, never a value', () => {
    const refused: [string, RegExp][] = [
      ['host=a,b,c port=1,2', /3 hosts but 2 ports/],
      ['host=a port=99999', /bad port/],
      ["host=a password='S3cretpw", /unterminated quoted value for "password"/],
      ['host=a S3cretpw=x', /unsupported keyword at character 8/],
      ['host=a host=b', /"host" given twice/],
      ['host=a,,b', /empty host/],
    ];
    for (const [text, message] of refused) {
      const error = (() => {
        try {
          parseDsn(text);
        } catch (e) {
          return e as Error;
        }
        throw new Error(`accepted: ${text}`);
      })();
      expect(error.message).toMatch(message);
      expect(error.message).not.toContain('S3cretpw');
    }
  });

  it('never shows the password when printed', () => {
    const dsn = parseDsn('host=a user=u password=S3cretpw');
    expect(`${JSON.stringify(dsn)} ${inspect(dsn)} ${dsn.redacted}`).not.toContain('S3cretpw');
  });
});
