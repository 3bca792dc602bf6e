import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import {
  describeIfMariadb,
  describeIfPostgres,
  mariadbUrl,
  type PgCluster,
  startPostgres,
} from '../../support/servers.js';

// A password with every character a URL parser trips on, unencoded but for '%' (which must be %25).
const password = 'Se/c?r#e@t:1 x';
const written = 'Se/c?r#e@t:1 x';
const role = `dbop_pw_${process.pid}`;

async function expectNoSecret(db: Database | undefined, error?: unknown): Promise<void> {
  for (const text of [db?.url ?? '', inspect(db), JSON.stringify(db?.stats() ?? {}), inspect(error)]) {
    expect(text).not.toContain('Se/c');
    expect(text).not.toContain('r#e@t');
  }
}

// The shared servers trust every local connection, so a private server with a password rule for one role
// proves the password reaches the server intact (a wrong one is refused).
describeIfPostgres('a password with unencoded / ? # @ : reaches PostgreSQL (pg)', () => {
  let cluster: PgCluster;
  let admin: Database;
  const url = (secret: string): string =>
    `postgres://${role}:${secret}@127.0.0.1:${cluster.primary.port}/dbop`;

  beforeAll(async () => {
    cluster = await startPostgres();
    const hba = join(cluster.primary.dataDir, 'pg_hba.conf');
    await writeFile(hba, `host all ${role} 127.0.0.1/32 scram-sha-256\n${await readFile(hba, 'utf8')}`);
    admin = await createDatabase({ url: cluster.primary.url, max: 1 });
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password.replaceAll("'", "''")}'`);
    await admin.query('SELECT pg_reload_conf()');
  }, 60_000);
  afterAll(async () => {
    await admin?.close();
    await cluster?.destroy();
  });

  it('createDatabase connects with it, and db.url shows ***', async () => {
    const db = await createDatabase({ url: url(written), max: 1, maxRetries: 0 });
    try {
      const { rows } = await db.query<{ who: string }>('SELECT current_user AS who');
      expect(rows).toEqual([{ who: role }]);
      expect(db.url).toBe(`postgres://${role}:***@127.0.0.1:${cluster.primary.port}/dbop`);
      await expectNoSecret(db);
    } finally {
      await db.close();
    }
  });

  it('a wrong password is refused by the server (28P01), and the error does not show the URL', async () => {
    const db = await createDatabase({ url: url('Se/c?r#e@t:2 x'), max: 1, maxRetries: 0 });
    try {
      const error = await db.query('SELECT 1').catch((e: unknown) => e);
      expect((error as { code?: string }).code).toBe('28P01');
      await expectNoSecret(db, error);
    } finally {
      await db.close();
    }
  });
});

for (const scheme of ['mariadb', 'mysql'] as const) {
  describeIfMariadb(`a password with unencoded / ? # @ : reaches MariaDB (${scheme}://)`, () => {
    let admin: Database;
    const user = `${role}_${scheme}`;
    const url = (secret: string): string => {
      const server = new URL(mariadbUrl());
      return `${scheme}://${user}:${secret}@127.0.0.1:${server.port}/dbop`;
    };

    beforeAll(async () => {
      admin = await createDatabase({ url: mariadbUrl(), max: 1 });
      await admin.query(`DROP USER IF EXISTS '${user}'@'%'`);
      await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
      await admin.query(`GRANT ALL ON dbop.* TO '${user}'@'%'`);
    });
    afterAll(async () => {
      await admin?.query(`DROP USER IF EXISTS '${user}'@'%'`);
      await admin?.close();
    });

    it('createDatabase connects with it, and db.url shows ***', async () => {
      const db = await createDatabase({ url: url(written), max: 1, maxRetries: 0 });
      try {
        const { rows } = await db.query<{ who: string }>('SELECT CURRENT_USER() AS who');
        expect(rows[0]?.who).toMatch(new RegExp(`^${user}@`));
        expect(db.url).toMatch(new RegExp(`^${scheme}://${user}:\\*\\*\\*@127\\.0\\.0\\.1:\\d+/dbop$`));
        await expectNoSecret(db);
      } finally {
        await db.close();
      }
    });

    it('a wrong password is refused by the server (1045)', async () => {
      const db = await createDatabase({
        url: url('Se/c?r#e@t:2 x'),
        max: 1,
        maxRetries: 0,
        connectTimeoutMs: 2000,
      });
      try {
        const error = await db.query('SELECT 1').catch((e: unknown) => e);
        // mariadb's pool keeps retrying until its acquire timeout (45028), with the server's 1045 as cause.
        const cause = (error as { cause?: { errno?: number } }).cause;
        expect([(error as { errno?: number }).errno, cause?.errno]).toContain(1045);
        await expectNoSecret(db, error);
      } finally {
        await db.close();
      }
    });
  });
}
