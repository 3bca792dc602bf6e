import { inspect } from 'node:util';
import { expect, it } from 'vitest';
import { createDatabase } from '../../../src/database/create-database.js';
import { describeIfMariadb, describeIfPostgres, mariadbUrl, postgresUrl } from '../../support/servers.js';

// Issue 10 (F1): a password pasted into a query value never shows in createDatabase's errors, db.url or
// the limiter's name, against real servers and the real drivers (mysql2 once echoed an unknown charset).
const secret = 'S3cr3tPW';

/** createDatabase, one query, close: everything printed along the way. */
async function printed(url: string): Promise<string[]> {
  const seen: string[] = [];
  try {
    const db = await createDatabase({ url, max: 1, maxRetries: 0, connectTimeoutMs: 5000 });
    try {
      await db.query('SELECT 1');
      seen.push(db.url, inspect(db, { depth: 6 }), JSON.stringify(db.stats()));
    } finally {
      await db.close();
    }
  } catch (error) {
    seen.push(String((error as Error).stack), inspect(error, { depth: 6 }));
  }
  return seen;
}

const withQuery = (url: string, query: string): string => `${url}${url.includes('?') ? '&' : '?'}${query}`;

describeIfPostgres('PostgreSQL (pg): query values', () => {
  for (const query of [
    `application_name=${secret}`,
    `options=-c%20application_name%3D${secret}`,
    `ssl=true;password=${secret}`,
    `sslmode=${secret}`,
    `a=1;password=${secret}`,
    `%2570assword=${secret}`,
  ]) {
    it(`?${query.replace(secret, '***')} never shows the secret`, async () => {
      const texts = await printed(withQuery(postgresUrl(), query));
      expect(texts.length).toBeGreaterThan(0);
      for (const text of texts) expect(text).not.toContain(secret);
    });
  }

  it('connects with application_name and prints it as ***', async () => {
    const db = await createDatabase({ url: withQuery(postgresUrl(), `application_name=${secret}`), max: 1 });
    try {
      const { rows } = await db.query<{ name: string }>('SELECT current_setting($1) AS name', [
        'application_name',
      ]);
      expect(rows).toEqual([{ name: secret }]);
      expect(db.url).toMatch(/application_name=\*\*\*$/);
    } finally {
      await db.close();
    }
  });
});

describeIfMariadb('MariaDB (mysql2 and mariadb): query values', () => {
  for (const scheme of ['mysql', 'mariadb']) {
    for (const query of [
      `charset=utf8;password=${secret}`,
      `charset=${secret}`,
      `timezone=${secret}%3B`,
      `timezone=${secret}`,
    ]) {
      it(`${scheme}: ?${query.replace(secret, '***')} never shows the secret`, async () => {
        const url = mariadbUrl().replace(/^mysql:/, `${scheme}:`);
        const texts = await printed(withQuery(url, query));
        for (const text of texts) expect(text).not.toContain(secret);
      });
    }
  }
});
