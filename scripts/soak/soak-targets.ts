import * as mariadb from 'mariadb';
import pg from 'pg';
import { type MariadbServer, startMariadb } from '../../test/support/harness/mariadb.js';
import { type PgCluster, startPostgres } from '../../test/support/harness/postgres.js';

/**
 * One server the soak owns (started through the test harness, so it may stop and kill it), with a role of
 * its own for the workload: every connection of that role is ours, which is what the faults aim at and
 * what the audit counts.
 */
export interface SoakTarget {
  readonly name: 'postgres' | 'mariadb';
  /** The workload's URL (its own role). */
  readonly url: string;
  /** Runs one admin statement on a fresh superuser connection and returns the rows. */
  admin(sql: string): Promise<Record<string, unknown>[]>;
  /** Ends every connection of the workload's role (or only the idle ones); how many. */
  kill(onlyIdle: boolean): Promise<number>;
  /** Connections of the workload's role the server still has. */
  ours(): Promise<number>;
  /** Stops the server, waits `downMs`, starts it again. */
  outage(downMs: number): Promise<void>;
  destroy(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function postgresTarget(): Promise<SoakTarget> {
  const cluster: PgCluster = await startPostgres({ standbys: 0 });
  const server = cluster.primary;
  const admin = async (sql: string): Promise<Record<string, unknown>[]> => {
    const client = new pg.Client({ connectionString: server.url, connectionTimeoutMillis: 5000 });
    client.on('error', () => {});
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  await admin('CREATE ROLE soak LOGIN');
  await admin('GRANT ALL ON SCHEMA public TO soak');
  // Deadlocks are detected after deadlock_timeout; the default 1 s stalls the hot rows for that long.
  await admin("ALTER SYSTEM SET deadlock_timeout = '100ms'");
  await admin('SELECT pg_reload_conf()');
  return {
    name: 'postgres',
    url: `postgres://soak@127.0.0.1:${server.port}/dbop`,
    admin,
    async kill(onlyIdle) {
      const rows = await admin(
        `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE usename = 'soak'${onlyIdle ? " AND state = 'idle'" : ''}`,
      );
      return Number(rows[0]?.n ?? 0);
    },
    async ours() {
      const rows = await admin("SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = 'soak'");
      return Number(rows[0]?.n ?? 0);
    },
    async outage(downMs) {
      await server.stop('fast');
      await sleep(downMs);
      await server.start();
    },
    destroy: () => cluster.destroy(),
  };
}

export async function mariadbTarget(): Promise<SoakTarget> {
  const server: MariadbServer = await startMariadb();
  const rootUrl = new URL(server.url);
  const admin = async (sql: string): Promise<Record<string, unknown>[]> => {
    const connection = await mariadb.createConnection({
      host: '127.0.0.1',
      port: Number(rootUrl.port),
      user: 'root',
      password: decodeURIComponent(rootUrl.password),
      database: 'dbop',
      connectTimeout: 5000,
    });
    connection.on('error', () => {});
    try {
      const result = await connection.query(sql);
      return Array.isArray(result) ? (result as Record<string, unknown>[]) : [];
    } finally {
      await connection.end().catch(() => connection.destroy());
    }
  };
  await admin("CREATE USER soak@'%' IDENTIFIED BY 'soak'");
  await admin("GRANT ALL ON dbop.* TO soak@'%'");
  return {
    name: 'mariadb',
    url: `mariadb://soak:soak@127.0.0.1:${rootUrl.port}/dbop`,
    admin,
    async kill(onlyIdle) {
      const rows = await admin(
        `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = 'soak'${onlyIdle ? " AND COMMAND = 'Sleep'" : ''}`,
      );
      let killed = 0;
      for (const row of rows) {
        // Gone already (it ended between the listing and the KILL): not an error.
        if (
          await admin(`KILL ${Number(row.id)}`).then(
            () => true,
            () => false,
          )
        )
          killed += 1;
      }
      return killed;
    },
    async ours() {
      const rows = await admin(
        "SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE USER = 'soak'",
      );
      return Number(rows[0]?.n ?? 0);
    },
    async outage(downMs) {
      await server.stop();
      await sleep(downMs);
      await server.start();
    },
    destroy: () => server.destroy(),
  };
}
