import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseDsn } from '../../../src/connect/parse-dsn.js';
import { redactDsn } from '../../../src/connect/redact-dsn.js';
import { redactSecrets } from '../../../src/connect/redact-secrets.js';
import { isDbopError } from '../../../src/core/errors.js';
import { mysqlPoolConfig } from '../../../src/database/drivers/mysql-pool-config.js';
import { pgPoolConfig } from '../../../src/database/drivers/pg-pool-config.js';

const secret = 'S3cr3tPW';
const settings = { connectTimeoutMs: 1000 } as Parameters<typeof pgPoolConfig>[1];

/**
 * What gets printed about a URL: redactDsn, the parse error, or the parsed URL's printable form (db.url,
 * the limiter's name, the CLI) and the driver config's error. `whole` adds JSON and inspect of the parts.
 */
function outputs(url: string, whole = false): string[] {
  const texts = [redactDsn(url)];
  try {
    const dsn = parseDsn(url);
    texts.push(dsn.redacted);
    if (whole) texts.push(JSON.stringify(dsn), inspect(dsn));
    try {
      if (dsn.backend === 'postgres' && dsn.hosts !== undefined) pgPoolConfig(dsn, settings);
      else if (dsn.hosts !== undefined) mysqlPoolConfig(dsn, settings);
    } catch (error) {
      texts.push(String((error as Error).stack));
    }
  } catch (error) {
    expect(isDbopError(error, 'DBOP_BAD_URL')).toBe(true);
    texts.push(String((error as Error).stack));
  }
  return texts;
}

describe('a password hidden in a query value never prints (issue 10, F1)', () => {
  const queries = [
    `pw=${secret}`,
    `MYSQL_PWD=${secret}`,
    `api_token=${secret}`,
    `a=1;password=${secret}`,
    `ssl=true;password=${secret}`,
    `sslmode=require;password=${secret}`,
    `application_name=app;password=${secret}`,
    `charset=utf8;password=${secret}`,
    `charset=utf8%3Bpassword%3D${secret}`,
    `flavor=mysql;password=${secret}`,
    `timezone=Z%26password%3D${secret}`,
    `%2570assword=${secret}`,
    `x=a%26password%3D${secret}`,
    `options=-c%20password%3D${secret}`,
    `charset=${secret}`,
    `flavor=${secret}`,
    `ssl=${secret}`,
    `sslmode=${secret}`,
    `unknown=${secret}`,
  ];
  for (const scheme of ['postgres', 'mysql', 'mariadb']) {
    for (const query of queries) {
      it(`${scheme}: ?${query.replace(secret, '***')}`, () => {
        for (const text of outputs(`${scheme}://u@127.0.0.1/db?${query}`)) expect(text).not.toContain(secret);
      });
    }
  }

  it('treats a name holding pass, pwd, pw, secret, token or key as a secret, once fully decoded', () => {
    for (const key of [
      'pw',
      'MYSQL_PWD',
      '%2570assword',
      '%252570wd',
      'api_token',
      'sslkey',
      'client_secret',
    ]) {
      expect(() => parseDsn(`postgres://h/db?${key}=x`)).toThrow(
        /^A password in a query parameter at character 17 /,
      );
    }
  });

  it('refuses ";", "&" or "=" in a typed value, naming the parameter and position only', () => {
    expect(() => parseDsn(`postgres://h/db?ssl=true%3Bpassword%3D${secret}`)).toThrow(
      /^A ';', '&' or '=' in the value of the `ssl` query parameter at character 21 /,
    );
    expect(() => parseDsn(`mysql://h/db?charset=utf8;x`)).toThrow(
      /`charset` query parameter at character 22 /,
    );
  });

  it('prints known-safe typed values and numbers, and *** for every other value', () => {
    const dsn = parseDsn(
      'postgres://u:pw@h/db?sslmode=require&ssl=true&target_session_attrs=read-write&connect_timeout=10&application_name=shop&options=-c%20x%3D1',
    );
    expect(dsn.redacted).toBe(
      'postgres://u:***@h/db?sslmode=require&ssl=true&target_session_attrs=read-write&connect_timeout=10&application_name=***&options=***',
    );
    expect(dsn.query).toMatchObject({ application_name: 'shop', options: '-c x=1' });
    expect(parseDsn('mysql://h/db?flavor=mariadb&charset=utf8mb4').redacted).toBe(
      'mysql://h/db?flavor=mariadb&charset=***',
    );
  });

  it('driver config errors name the parameter and its position, not the value', () => {
    expect(() => pgPoolConfig(parseDsn(`postgres://h/db?sslmode=require&ssl=${secret}`), settings)).toThrow(
      /^Expected the query parameter `ssl` \(parameter 2\) of the database URL to be true or false$/,
    );
    expect(() => mysqlPoolConfig(parseDsn(`mysql://h/db?charset=${secret}-x`), settings)).toThrow(
      /^Expected the query parameter `charset` \(parameter 1\) of the database URL to be a MySQL character set or collation name$/,
    );
  });
});

describe('sqlite: and pglite: refuse a user or password (issue 10, F2)', () => {
  for (const url of [
    `sqlite://app:${secret}@dbhost`,
    `sqlite://app:${secret}@dbhost/shop`,
    `pglite://app:${secret}@dbhost/shop`,
    `sqlite://app@dbhost/shop`,
  ]) {
    it(url.replace(secret, '***'), () => {
      expect(() => parseDsn(url)).toThrow(/^A user or password in a (sqlite|pglite): URL at character 10 /);
      for (const text of outputs(url, true)) expect(text).not.toContain(secret);
      expect(redactDsn(url)).toBe('[invalid database URL]');
    });
  }

  it('still reads paths, an "@" in an absolute path included', () => {
    expect(parseDsn('sqlite:///var/lib/@scope/x.db').path).toBe('/var/lib/@scope/x.db');
    expect(parseDsn('sqlite:data@v2.db').path).toBe('data@v2.db');
    expect(parseDsn('pglite://memory').path).toBe('memory');
  });
});

describe('redactSecrets on free text (issue 10, F3)', () => {
  const cases: Array<[string, string]> = [
    [`host=h user=u password='${secret}' dbname=x`, "host=h user=u password='***' dbname=x"],
    [`host=h password="${secret} with spaces" port=5`, 'host=h password="***" port=5'],
    [`{"user":"u","password":"${secret}"}`, '{"user":"u","password":"***"}'],
    [`password: ${secret}`, 'password: ***'],
    [`password = ${secret}`, 'password = ***'],
    [`MYSQL_PWD=${secret} mysql`, 'MYSQL_PWD=*** mysql'],
    [`pw=${secret}&x=1`, 'pw=***&x=1'],
    [`?a=1;password=${secret}`, '?a=1;password=***'],
    [`password%3D${secret}`, 'password%3D***'],
    [`x=a%26password%3D${secret}`, 'x=a%26password%3D***'],
    [`postgres:/u:${secret}@h/db`, 'postgres:/u:***@h/db'],
    [`postgres//u:${secret}@h/db`, 'postgres//u:***@h/db'],
    [`u:${secret}@h:5432/db`, 'u:***@h:5432/db'],
    [`postgres://u:${secret}@h,postgres://v:w@h2`, 'postgres://u:***@h,postgres://v:***@h2'],
    [`unterminated password="${secret}`, 'unterminated password="***'],
  ];
  for (const [text, expected] of cases) {
    it(text.replace(secret, '***'), () => {
      expect(redactSecrets(text)).toBe(expected);
    });
  }

  it('leaves ordinary text alone', () => {
    for (const text of [
      'duplicate key value violates unique constraint "t_pkey"',
      'Key (id)=(1) already exists.',
      'connect ECONNREFUSED 127.0.0.1:5432',
      'postgres://u@h:5432/db?sslmode=require',
      'mail bob@example.com at 10:30',
    ]) {
      expect(redactSecrets(text)).toBe(text);
    }
  });
});

describe('a parsed URL printed whole never shows a query value it cannot vouch for', () => {
  it.each([
    'postgres://u@127.0.0.1/db?application_name=app%3Bpassword%3DS3cr3tPW',
    'mysql://u@127.0.0.1/db?x=a%3Bpassword%3DS3cr3tPW',
    'mariadb://u:S3cr3tPW@127.0.0.1/db?charset=utf8mb4',
  ])('JSON and inspect of %s', (url) => {
    const dsn = parseDsn(url);
    expect(JSON.stringify(dsn)).not.toContain('S3cr3tPW');
    expect(inspect(dsn, { depth: 5 })).not.toContain('S3cr3tPW');
    // The driver still gets the real values.
    expect(Object.values(dsn.query ?? {}).join(' ')).toMatch(/S3cr3tPW|utf8mb4/);
  });
});
