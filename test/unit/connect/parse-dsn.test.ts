import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { buildDsn } from '../../../src/connect/build-dsn.js';
import { formatDsn } from '../../../src/connect/format-dsn.js';
import { isDsnMultihost } from '../../../src/connect/is-dsn-multihost.js';
import { parseDsn } from '../../../src/connect/parse-dsn.js';
import { redactDsn } from '../../../src/connect/redact-dsn.js';
import { redactSecrets } from '../../../src/connect/redact-secrets.js';
import { isDbopError } from '../../../src/core/errors.js';

describe('parseDsn', () => {
  it('maps each scheme to its driver and backend', () => {
    const drivers = [
      ['postgres://h/db', 'pg', 'postgres'],
      ['postgresql://h/db', 'pg', 'postgres'],
      ['mysql://h/db', 'mysql2', 'mysql'],
      ['mariadb://h/db', 'mariadb', 'mariadb'],
      ['sqlite:./data.db', 'better-sqlite3', 'sqlite'],
      ['pglite:memory', '@electric-sql/pglite', 'postgres'],
    ];
    for (const [url, driver, backend] of drivers) {
      expect(parseDsn(url!)).toMatchObject({ driver, backend });
    }
  });

  it('reads user, password, hosts, database and query', () => {
    const target = parseDsn('postgres://app:p%40ss@db1:5432,db2:5433/shop?sslmode=require');
    expect(target).toMatchObject({
      user: 'app',
      password: 'p@ss',
      hosts: [
        { host: 'db1', port: 5432 },
        { host: 'db2', port: 5433 },
      ],
      database: 'shop',
      query: { sslmode: 'require' },
    });
    expect(parseDsn('postgres://[::1]:5433/db').hosts).toEqual([{ host: '::1', port: 5433 }]);
  });

  it('reads SQLite and PGlite paths', () => {
    expect(parseDsn('sqlite:/var/data/app.db').path).toBe('/var/data/app.db');
    expect(parseDsn('sqlite:///var/data/app.db').path).toBe('/var/data/app.db');
    expect(parseDsn('sqlite:rel/app.db').path).toBe('rel/app.db');
    expect(parseDsn('sqlite::memory:').path).toBe(':memory:');
    expect(parseDsn('pglite:memory').path).toBe('memory');
    expect(parseDsn('pglite:./pgdata').path).toBe('./pgdata');
  });

  it('keeps the password and the raw URL out of logs and JSON', () => {
    const target = parseDsn('mysql://root:hunter2@h:3306/db');
    expect(target.password).toBe('hunter2');
    expect(formatDsn(target)).toBe('mysql://root:hunter2@h:3306/db');
    expect(JSON.stringify(target)).not.toContain('hunter2');
    expect(inspect(target)).not.toContain('hunter2');
    expect(target.redacted).toBe('mysql://root:***@h:3306/db');
    expect(Object.isFrozen(target)).toBe(true);
  });

  const bad: Array<[string, RegExp]> = [
    ['localhost:5432/db', /^Missing scheme at character 1 /],
    ['/just/a/path', /^Missing scheme at character 1 /],
    ['oracle://u:secret@h/db', /^Unsupported scheme "oracle:" at character 1 /],
    ['pgsql://u:secret@h/db', /^Unknown scheme at character 1 /],
    ['u:secret@h:5432/db', /^Unknown scheme at character 1 /],
    ['postgres:h/db', /^Expected "\/\/" after "postgres:" at character 10 /],
    ['postgres://u:secret@/db', /^Missing host at character 21 /],
    ['postgres://u:secret@h:54x2/db', /^Invalid port at character 23 .*1 to 65535/],
    ['mysql://u:secret@h:70000/db', /^Invalid port at character 20 /],
    ['mariadb://u:%E0%A4%A@h/db', /^Invalid percent-encoding in the password at character 19 /],
    ['postgres://u@h/db?password=secret', /^A password in a query parameter at character 19 /],
    ['postgres://u@h/db?a=1&pass%77ord=secret', /^A password in a query parameter at character 23 /],
    ['postgres://u@h/db?SSLPassword=secret', /^A password in a query parameter/],
    ['postgres://u:secret@h,,h2/db', /^Missing host at character 23 /],
    ['postgres://u:secret@h o/db', /^Invalid character in the host at character 22 /],
    ['postgres://u:secret@[zz]/db', /^Invalid character in the IPv6 host at character 22 /],
    ['postgres://u:sec\u0000ret@h/db', /^A control character at character 17 /],
    ['sqlite:', /^Missing file path at character 8 /],
    [
      `postgres://u:secret@h/${'x'.repeat(9000)}`,
      /^The database URL is 9022 characters long; the limit is 8192$/,
    ],
  ];
  for (const [url, message] of bad) {
    it(`names the bad part of ${url.replace('secret', '***').slice(0, 60)}, without the password`, () => {
      let caught: unknown;
      try {
        parseDsn(url);
      } catch (error) {
        caught = error;
      }
      expect(isDbopError(caught, 'DBOP_BAD_URL')).toBe(true);
      expect((caught as Error).message).toMatch(message);
      expect((caught as Error).message).not.toContain('secret');
      expect((caught as Error).message).not.toContain('%E0%A4%A');
      expect((caught as Error).message).not.toContain(url.slice(0, 12));
    });
  }

  it('rejects what is not a URL with a TypeError', () => {
    expect(() => parseDsn('')).toThrow(TypeError);
    expect(() => parseDsn(undefined as unknown as string)).toThrow(TypeError);
  });
});

describe('redactSecrets', () => {
  it('redacts the userinfo password, even one holding @, and password= parameters', () => {
    expect(redactSecrets('postgres://u:p@ss@h/db')).toBe('postgres://u:***@h/db');
    expect(redactSecrets('failed: mysql://a:b@c:1/d and mariadb://x:y@z/w')).toBe(
      'failed: mysql://a:***@c:1/d and mariadb://x:***@z/w',
    );
    expect(redactSecrets('postgres://h/db?user=u&password=pw&ssl=1')).toBe(
      'postgres://h/db?user=u&password=***&ssl=1',
    );
    expect(redactSecrets('connect "host=h password=pw" ?pass%77ord=pw2&sslpassword=pw3')).toBe(
      'connect "host=h password=***" ?pass%77ord=***&sslpassword=***',
    );
  });

  it('redacts a password holding an unencoded / ? or #, and parses the URL around it', () => {
    for (const [url, host] of [
      ['postgres://app:Se/cret1@127.0.0.1:5432/test', '127.0.0.1'],
      ['mysql://app:pa#ss@db:3306/test', 'db'],
      ['mariadb://app:pa?ss=1@db:3306/test', 'db'],
    ] as const) {
      expect(redactSecrets(`could not connect to ${url}`)).not.toMatch(/Se\/cret1|pa#ss|pa\?ss/);
      const target = parseDsn(url);
      expect(target.hosts?.[0]?.host).toBe(host);
      expect(target.database).toBe('test');
      expect(JSON.stringify(target)).not.toMatch(/Se\/cret1|pa#ss|pa\?ss/);
      expect(target.redacted).toMatch(/:\*\*\*@/);
      expect(redactDsn(url)).toBe(target.redacted);
    }
    // A bad port next to such a password names the port, never the password.
    expect(() => parseDsn('postgres://app:Se/cret1@127.0.0.1:54x2/test')).toThrow(
      expect.objectContaining({ message: expect.not.stringMatching(/Se\/cret1/) }),
    );
  });

  it('leaves URLs without a password alone', () => {
    for (const url of ['postgres://u@h:5432/db', 'postgres://h:5432/db', 'sqlite:/tmp/a.db'])
      expect(redactSecrets(url)).toBe(url);
  });
});

describe('formatDsn, redactDsn, buildDsn, isDsnMultihost', () => {
  it('formats a parsed URL back, encoding what needs it', () => {
    const target = parseDsn(
      'postgres://us@er:Se/c?r#et@[::1]:5433,%2Ftmp%2Fsock/my%20db?application_name=a%26b',
    );
    expect(formatDsn(target)).toBe(
      'postgres://us%40er:Se%2Fc%3Fr%23et@[::1]:5433,%2Ftmp%2Fsock/my%20db?application_name=a%26b',
    );
    expect(target.redacted).toBe(
      'postgres://us%40er:***@[::1]:5433,%2Ftmp%2Fsock/my%20db?application_name=***',
    );
    expect(parseDsn(formatDsn(target))).toEqual(target);
    expect(parseDsn(formatDsn(target)).password).toBe('Se/c?r#et');
  });

  it('redacts what it cannot parse to a placeholder, never to the input', () => {
    expect(redactDsn('postgres://u:s3cret@h:99999/db')).toBe('[invalid database URL]');
    expect(redactDsn(parseDsn('mysql://u:s3cret@h/db'))).toBe('mysql://u:***@h/db');
  });

  it('builds a URL for one host of several, keeping the credentials', () => {
    const all = parseDsn('postgres://u:pw@h1:5432,h2:5433/db');
    expect(isDsnMultihost('postgres://u:pw@h1:5432,h2:5433/db')).toBe(true);
    expect(isDsnMultihost('postgres://u:pw@h1:5432/db')).toBe(false);
    const one = buildDsn(all, { hosts: [{ host: 'h2', port: 5433 }] });
    expect(formatDsn(one)).toBe('postgres://u:pw@h2:5433/db');
    expect(buildDsn(all, { database: 'other' }).redacted).toBe('postgres://u:***@h1:5432,h2:5433/other');
    expect(() => buildDsn(parseDsn('sqlite::memory:'), { hosts: [{ host: 'h' }] })).toThrow(TypeError);
  });
});
