import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseDsn } from '../../../src/connect/parse-dsn.js';
import type { Session, SessionSource } from '../../../src/core/session.js';
import type { DriverConnector } from '../../../src/database/drivers/driver-connector.js';
import { mysql2Connector } from '../../../src/database/drivers/mysql-connector.js';
import { DbOpRunner } from '../../../src/runner/dbop-runner.js';
import { importMysql2 } from '../../../src/sessions/mysql2/mysql2-connect.js';
import { importPg, pgConnect } from '../../../src/sessions/pg/pg-connect.js';
import { describeIfMariadb, describeIfPostgres, mariadbUrl, postgresUrl } from '../../support/servers.js';

/** The facade's source, with one more statement in every BEGIN batch: a failure the server really reports. */
function failingBegin(source: SessionSource, statement: string): SessionSource {
  return {
    acquire: async () => {
      const session = await source.acquire();
      return new Proxy(session, {
        get(target, property) {
          const value: unknown = Reflect.get(target, property, target);
          if (property === 'begin')
            return (options: { alsoRun?: readonly string[] } = {}) =>
              target.begin({ ...options, alsoRun: [...(options.alsoRun ?? []), statement] });
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }) as Session;
    },
    release: (session) => source.release(session),
  };
}

// A pooled connection goes back only when the server says it is idle. node-postgres rejects the BEGIN batch
// on the ErrorResponse, and the ReadyForQuery saying 'E' (aborted transaction) can arrive later: the
// connection then went back to the pool inside the aborted transaction and the next one failed with 25P02.
describeIfPostgres('a BEGIN batch that fails leaves a clean connection (PostgreSQL)', () => {
  const connector = { current: undefined as ReturnType<typeof pgConnect> | undefined };
  let admin: pg.Client;
  beforeAll(async () => {
    const url = new URL(postgresUrl());
    connector.current = pgConnect(await importPg(), {
      config: {
        host: url.hostname,
        port: Number(url.port),
        user: decodeURIComponent(url.username),
        database: url.pathname.slice(1),
      },
      max: 1,
    });
    admin = new pg.Client({ connectionString: postgresUrl() });
    await admin.connect();
  });
  afterAll(async () => {
    await connector.current?.close();
    await admin.end();
  });

  it('the next transaction on the single pooled connection succeeds, every time', async () => {
    const source = connector.current!;
    const runner = new DbOpRunner({ maxRetries: 0 });
    const failing = failingBegin(source, 'SET LOCAL statement_timeout = -5');
    for (let round = 0; round < 20; round++) {
      const error = await runner.transaction(failing, (s) => s.query('SELECT 1')).catch((e: unknown) => e);
      expect((error as { code?: string }).code).toBe('22023');
      const result = await runner.transaction(source, (s) => s.query('SELECT 1 AS status'));
      expect(result?.rows).toEqual([{ status: 1 }]);
    }
    const { rows } = await admin.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()",
    );
    expect(rows[0].n).toBe(0);
  });
});

// mysql2 keeps no transaction state: the OK packet's SERVER_STATUS_IN_TRANS flag is the server's word.
describeIfMariadb('a connection the server reports in a transaction is not reused (mysql2)', () => {
  const connector = { current: undefined as DriverConnector | undefined };
  beforeAll(async () => {
    const url = mariadbUrl().replace(/^[a-z]+:/, 'mysql:');
    connector.current = mysql2Connector(await importMysql2(), parseDsn(url), {
      max: 1,
      connectTimeoutMs: 5000,
      name: 'clean-release',
      pool: {},
      busyTimeoutMs: 0,
      lockWaitMs: 0,
      wal: false,
      verifyCommits: false,
    });
  });
  afterAll(async () => {
    await connector.current?.close();
  });

  it('a transaction begun with a plain statement is destroyed on release, not handed out again', async () => {
    const source = connector.current!;
    const first = await source.acquire();
    const [{ id }] = (await first.query<{ id: number }>('SELECT CONNECTION_ID() AS id')).rows as [
      { id: number },
    ];
    await first.query('START TRANSACTION');
    await source.release(first);
    const second = await source.acquire();
    try {
      const { rows } = await second.query<{ id: number; open: number }>(
        'SELECT CONNECTION_ID() AS id, @@in_transaction AS open',
      );
      expect(rows[0]!.open).toBe(0);
      expect(rows[0]!.id).not.toBe(id);
    } finally {
      await source.release(second);
    }
  });
});
