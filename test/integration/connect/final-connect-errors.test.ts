import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { NoHostAvailableError } from '../../../src/connect/no-host-available-error.js';
import { createDatabase } from '../../../src/database/create-database.js';
import { classify } from '../../../src/dialects/classify.js';
import {
  describeIfMariadb,
  describeIfPostgres,
  mariadbUrl,
  type PgCluster,
  sharedServers,
  startPostgres,
} from '../../support/servers.js';

/**
 * What a multi-host URL with a wrong password (or no such user or database) gets: one failure, final, that
 * names every host and its real reason, with no password in it. Not a retry loop for outageMs.
 */
async function firstFailure(url: string): Promise<{ error: unknown; errors: number; byCode: object }> {
  const db = await createDatabase({ url, max: 1 });
  try {
    const error = await db.query('SELECT 1').then(
      () => undefined,
      (e: unknown) => e,
    );
    const stats = db.stats().errors;
    return { error, errors: stats.total, byCode: stats.byCode };
  } finally {
    await db.close();
  }
}

function expectFinal(error: unknown, reason: RegExp, hosts: number): void {
  expect(error).toBeInstanceOf(NoHostAvailableError);
  const failure = error as NoHostAvailableError;
  expect(failure.code).toBe('DBOP_NO_HOST_ACCEPTS');
  expect(failure.failures).toHaveLength(hosts);
  for (const f of failure.failures) expect(f.reason).toMatch(reason);
  expect(classify(error)).toMatchObject({ kind: 'auth', retryable: false });
}

describeIfPostgres('a connect error that is final on every host of a multi-host URL', () => {
  const hosts = (): string => {
    const pg = sharedServers().postgres!;
    return [pg.primary.port, ...pg.standbys.map((s) => s.port)].map((p) => `127.0.0.1:${p}`).join(',');
  };

  it('no such database on every host (3D000): one final error, not retried', async () => {
    const { error, errors, byCode } = await firstFailure(`postgres://postgres@${hosts()}/dbop_no_such_db`);
    expectFinal(error, /3D000/, 3);
    expect(errors).toBe(1);
    expect(byCode).toEqual({ 'dbop:DBOP_NO_HOST_ACCEPTS': 1 });
  });

  it('no such user on every host (28000): one final error, not retried', async () => {
    const { error, errors } = await firstFailure(`postgres://dbop_no_such_user@${hosts()}/dbop`);
    expectFinal(error, /28000/, 3);
    expect(errors).toBe(1);
  });

  it('one host refusing the login and one host down is not final: the down host may be the one to use', async () => {
    const pg = sharedServers().postgres!;
    const db = await createDatabase({
      url: `postgres://postgres@127.0.0.1:${pg.primary.port},127.0.0.1:1/dbop_no_such_db`,
      max: 1,
      maxRetries: 1,
      outageMs: 0,
    });
    try {
      const error = await db.query('SELECT 1').catch((e: unknown) => e);
      expect((error as { code?: string }).code).toBe('DBOP_NO_HOST_AVAILABLE');
      expect(classify(error).retryable).toBe(true);
    } finally {
      await db.close();
    }
  });
});

describeIfPostgres('a wrong password on every host (private primary + standby, scram)', () => {
  const role = `dbop_final_${process.pid}`;
  const secret = 'Corr3ct-h0rse';
  const wrong = 'Wr0ng-b4ttery';
  let cluster: PgCluster;

  beforeAll(async () => {
    cluster = await startPostgres({ standbys: 1 });
    const admin = await createDatabase({ url: cluster.primary.url, max: 1 });
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${secret}'`);
    await admin.close();
    for (const server of [cluster.primary, ...cluster.standbys]) {
      const hba = join(server.dataDir, 'pg_hba.conf');
      await writeFile(hba, `host all ${role} 127.0.0.1/32 scram-sha-256\n${await readFile(hba, 'utf8')}`);
      const db = await createDatabase({ url: server.url, max: 1 });
      await db.query('SELECT pg_reload_conf()');
      await db.close();
    }
  });
  afterAll(async () => {
    await cluster?.destroy();
  });

  it('fails at once with 28P01 for each host, and never shows a password', async () => {
    const list = [cluster.primary, ...cluster.standbys].map((s) => `127.0.0.1:${s.port}`).join(',');
    // The right password works through the same URL: the refusal below is the password's.
    const good = await createDatabase({ url: `postgres://${role}:${secret}@${list}/dbop`, max: 1 });
    await good.query('SELECT 1');
    await good.close();
    const { error, errors } = await firstFailure(`postgres://${role}:${wrong}@${list}/dbop`);
    expectFinal(error, /28P01/, 2);
    expect(errors).toBe(1);
    for (const text of [inspect(error), String(error), JSON.stringify(error)]) {
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(secret);
    }
  });
});

describeIfMariadb('a wrong password on every host of a mysql:// multi-host URL (1045)', () => {
  it('fails at once, final, with no password in the error', async () => {
    const port = new URL(mariadbUrl()).port;
    // The same server under two names: two hosts, each refusing the login.
    const wrong = 'N0t-the-pw';
    const url = `mysql://root:${wrong}@127.0.0.1:${port},localhost:${port}/dbop`;
    const { error, errors } = await firstFailure(url);
    expectFinal(error, /1045|ER_ACCESS_DENIED/, 2);
    expect(errors).toBe(1);
    expect(inspect(error)).not.toContain(wrong);
  });
});
