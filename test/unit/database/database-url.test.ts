import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isDbopError } from '../../../src/core/errors.js';
import { parseDatabaseUrl } from '../../../src/database/database-url.js';
import { redactUrl } from '../../../src/database/redact-url.js';

describe('parseDatabaseUrl', () => {
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
      expect(parseDatabaseUrl(url!)).toMatchObject({ driver, backend });
    }
  });

  it('reads user, password, hosts, database and query', () => {
    const target = parseDatabaseUrl('postgres://app:p%40ss@db1:5432,db2:5433/shop?sslmode=require');
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
    expect(parseDatabaseUrl('postgres://[::1]:5433/db').hosts).toEqual([{ host: '::1', port: 5433 }]);
  });

  it('reads SQLite and PGlite paths', () => {
    expect(parseDatabaseUrl('sqlite:/var/data/app.db').path).toBe('/var/data/app.db');
    expect(parseDatabaseUrl('sqlite:///var/data/app.db').path).toBe('/var/data/app.db');
    expect(parseDatabaseUrl('sqlite:rel/app.db').path).toBe('rel/app.db');
    expect(parseDatabaseUrl('sqlite::memory:').path).toBe(':memory:');
    expect(parseDatabaseUrl('pglite:memory').path).toBe('memory');
    expect(parseDatabaseUrl('pglite:./pgdata').path).toBe('./pgdata');
  });

  it('keeps the password and the raw URL out of logs and JSON', () => {
    const target = parseDatabaseUrl('mysql://root:hunter2@h:3306/db');
    expect(target.password).toBe('hunter2');
    expect(target.url).toContain('hunter2');
    expect(JSON.stringify(target)).not.toContain('hunter2');
    expect(inspect(target)).not.toContain('hunter2');
    expect(target.redacted).toBe('mysql://root:***@h:3306/db');
    expect(Object.isFrozen(target)).toBe(true);
  });

  const bad: Array<[string, RegExp]> = [
    ['localhost:5432/db', /Unknown scheme "localhost:"/],
    ['/just/a/path', /Missing scheme/],
    ['oracle://u:secret@h/db', /Unknown scheme "oracle:"/],
    ['postgres:h/db', /Expected "\/\/" after "postgres:"/],
    ['postgres://u:secret@/db', /Missing host/],
    ['postgres://u:secret@h:54x2/db', /Invalid port "54x2"/],
    ['mysql://u:secret@h:70000/db', /Invalid port "70000"/],
    ['mariadb://u:%E0%A4%A@h/db', /percent-encoding in the password/],
    ['sqlite:', /Missing file path/],
  ];
  for (const [url, message] of bad) {
    it(`names the bad part of ${url.replace('secret', '***')}, without the password`, () => {
      let caught: unknown;
      try {
        parseDatabaseUrl(url);
      } catch (error) {
        caught = error;
      }
      expect(isDbopError(caught, 'DBOP_BAD_URL')).toBe(true);
      expect((caught as Error).message).toMatch(message);
      expect((caught as Error).message).not.toContain('secret');
      expect((caught as Error).message).not.toContain('%E0%A4%A');
    });
  }

  it('rejects what is not a URL with a TypeError', () => {
    expect(() => parseDatabaseUrl('')).toThrow(TypeError);
    expect(() => parseDatabaseUrl(undefined as unknown as string)).toThrow(TypeError);
  });
});

describe('redactUrl', () => {
  it('redacts the userinfo password, even one holding @, and password= parameters', () => {
    expect(redactUrl('postgres://u:p@ss@h/db')).toBe('postgres://u:***@h/db');
    expect(redactUrl('failed: mysql://a:b@c:1/d and mariadb://x:y@z/w')).toBe(
      'failed: mysql://a:***@c:1/d and mariadb://x:***@z/w',
    );
    expect(redactUrl('postgres://h/db?user=u&password=pw&ssl=1')).toBe(
      'postgres://h/db?user=u&password=***&ssl=1',
    );
  });

  it('redacts a password holding an unencoded / ? or #, and parses the URL around it', () => {
    for (const [url, host] of [
      ['postgres://app:Se/cret1@127.0.0.1:5432/test', '127.0.0.1'],
      ['mysql://app:pa#ss@db:3306/test', 'db'],
      ['mariadb://app:pa?ss=1@db:3306/test', 'db'],
    ] as const) {
      expect(redactUrl(`could not connect to ${url}`)).not.toMatch(/Se\/cret1|pa#ss|pa\?ss/);
      const target = parseDatabaseUrl(url);
      expect(target.hosts?.[0]?.host).toBe(host);
      expect(target.database).toBe('test');
      expect(JSON.stringify(target)).not.toMatch(/Se\/cret1|pa#ss|pa\?ss/);
      expect(target.redacted).toMatch(/:\*\*\*@/);
    }
    // A bad port next to such a password names the port, never the password.
    expect(() => parseDatabaseUrl('postgres://app:Se/cret1@127.0.0.1:54x2/test')).toThrow(
      expect.objectContaining({ message: expect.not.stringMatching(/Se\/cret1/) }),
    );
  });

  it('leaves URLs without a password alone', () => {
    for (const url of ['postgres://u@h:5432/db', 'postgres://h:5432/db', 'sqlite:/tmp/a.db'])
      expect(redactUrl(url)).toBe(url);
  });
});
