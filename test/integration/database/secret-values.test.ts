import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { inspect } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { channelNames } from '../../../src/core/diagnostics.js';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import { describeIfMariadb, mariadbUrl } from '../../support/servers.js';
import { recordingIo } from '../../unit/cli/cli-test-io.js';

const secret = 'hunter2-SECRET';
const table = `dbop_secret_${process.pid}`;

// A parameter may be a password: it must not reach an error message, a log, the stats or the CLI's stderr.
// mariadb appends every parameter value to its error messages unless logParam is false; mysql2 puts the
// statement with the values interpolated into the error's `sql` property.
for (const scheme of ['mariadb', 'mysql'] as const) {
  describeIfMariadb(`parameter values stay out of errors, logs and stats (${scheme}://)`, () => {
    const url = (): string => mariadbUrl().replace(/^mysql:/, `${scheme}:`);
    const logs: unknown[] = [];
    const record = (level: string) => (fields: object, message: string) =>
      logs.push([level, fields, message]);
    let db: Database;

    beforeAll(async () => {
      db = await createDatabase({
        url: url(),
        maxRetries: 0,
        logger: {
          debug: record('debug'),
          info: record('info'),
          warn: record('warn'),
          error: record('error'),
        },
      });
      await db.query(`CREATE TABLE IF NOT EXISTS ${table}_${scheme} (id INT PRIMARY KEY, password TEXT)`);
    });
    afterAll(async () => {
      await db.query(`DROP TABLE IF EXISTS ${table}_${scheme}`);
      await db.close();
    });

    it('a failing statement with a secret parameter: message, inspect(), logs and stats never show it', async () => {
      const published: unknown[] = [];
      const listener = (message: unknown): void => {
        published.push((message as { error: Error }).error.message);
      };
      subscribe(channelNames.error, listener);
      const errors: unknown[] = [];
      try {
        errors.push(
          await db
            .query('INSERT INTO dbop_no_such_table (password) VALUES (:pw)', { pw: secret })
            .catch((e: unknown) => e),
          await db
            .acquire((conn) =>
              conn.execute(`INSERT INTO ${table}_${scheme} (id, password) VALUES (:id, :pw), (:id, :pw)`, {
                id: 1,
                pw: secret,
              }),
            )
            .catch((e: unknown) => e),
        );
      } finally {
        unsubscribe(channelNames.error, listener);
      }
      expect(errors.map((e) => (e as { errno?: number }).errno)).toEqual([1146, 1062]);
      for (const error of errors) {
        expect((error as Error).message).not.toContain(secret);
        expect(inspect(error, { depth: 5 })).not.toContain(secret);
      }
      expect(published).toHaveLength(2);
      expect(JSON.stringify(published)).not.toContain(secret);
      expect(logs.length).toBeGreaterThan(0);
      expect(JSON.stringify(logs)).not.toContain(secret);
      expect(JSON.stringify(db.stats())).not.toContain(secret);
      expect(db.stats().errors.byCode).toMatchObject({ 'mariadb:1146': 1, 'mariadb:1062': 1 });
    });

    it('`dbop run` prints only the first line of the driver message (no SQL, no values, no password)', async () => {
      const io = recordingIo();
      const code = await main(
        [
          'run',
          '--url',
          url(),
          '--retries',
          '0',
          `INSERT INTO dbop_no_such_table (password) VALUES ('${secret}')`,
        ],
        io,
      );
      expect(code).toBe(1);
      const stderr = io.err();
      expect(stderr).toMatch(/^dbop: \S+ .*dbop_no_such_table' doesn't exist\n$/);
      expect(stderr).not.toContain(secret);
      expect(stderr).not.toContain(':dbop@');
    });
  });
}
