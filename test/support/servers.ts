import { describe, inject } from 'vitest';
import type { ServerInfo } from './harness/shared-set.js';

export { type MariadbServer, startMariadb } from './harness/mariadb.js';
export { type PgCluster, type PgServer, startPostgres } from './harness/postgres.js';
export type { NodeInfo, ServerInfo } from './harness/shared-set.js';

/** The shared servers of this test run (never stop, kill or promote them: private ones are for that). */
export function sharedServers(): ServerInfo {
  return inject('servers');
}

const required = process.env.DBOP_REQUIRE_SERVERS === '1';

function describeIf(available: boolean): typeof describe | typeof describe.skip {
  if (available || required) return describe;
  return describe.skip;
}

/** A describe() that runs when the shared PostgreSQL set is up, and is skipped (with the reason logged) otherwise. */
export function describeIfPostgres(name: string, fn: () => void): void {
  const servers = sharedServers();
  describeIf(servers.postgres !== undefined)(
    servers.postgres ? name : `${name} (skipped: ${servers.reason ?? 'no PostgreSQL'})`,
    fn,
  );
}

/** A describe() that runs when the shared MariaDB server is up, and is skipped (with the reason logged) otherwise. */
export function describeIfMariadb(name: string, fn: () => void): void {
  const servers = sharedServers();
  describeIf(servers.mariadb !== undefined)(
    servers.mariadb ? name : `${name} (skipped: ${servers.reason ?? 'no MariaDB'})`,
    fn,
  );
}

/** The shared primary's URL; throws (failing the test) when PostgreSQL is not available. */
export function postgresUrl(): string {
  const pg = sharedServers().postgres;
  if (!pg)
    throw new Error(`PostgreSQL test server not available: ${sharedServers().reason ?? 'unknown reason'}`);
  return pg.primary.url;
}

/** The shared MariaDB URL (mysql://root:dbop@127.0.0.1:PORT/dbop); throws when MariaDB is not available. */
export function mariadbUrl(): string {
  const maria = sharedServers().mariadb;
  if (!maria)
    throw new Error(`MariaDB test server not available: ${sharedServers().reason ?? 'unknown reason'}`);
  return maria.url;
}

/** Ends another session's backend from a fresh superuser connection (a fault test's pg_terminate_backend). */
export async function terminateBackend(url: string, pid: number): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('SELECT pg_terminate_backend($1)', [pid]);
  } finally {
    await client.end();
  }
}
