import { randomUUID } from 'node:crypto';
import * as mariadb from 'mariadb';
import mysql from 'mysql2/promise';
import pg from 'pg';
import postgres from 'postgres';

/** One connection of one driver, reduced to what these tests need. */
export interface TestConnection {
  /** Server-side id: the backend pid (Postgres) or connection id (MariaDB). */
  readonly id: number;
  query(sql: string): Promise<unknown>;
  close(): Promise<void>;
}

/** Opens one connection of one driver to a URL. */
export type Connect = (url: string) => Promise<TestConnection>;

/** The rejection of `promise`; fails the test when it resolves instead. */
export async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the statement to fail, it succeeded');
}

/** What a synchronous statement threw (better-sqlite3); fails the test when it succeeds instead. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the statement to fail, it succeeded');
}

/** A name no other test (or test run) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

/** Opens connections and closes every one of them, whatever happened. */
export async function withConnections<T>(
  connect: Connect,
  urls: readonly string[],
  fn: (connections: TestConnection[]) => Promise<T>,
): Promise<T> {
  const connections: TestConnection[] = [];
  try {
    for (const url of urls) connections.push(await connect(url));
    return await fn(connections);
  } finally {
    await Promise.allSettled(connections.map((c) => c.close()));
  }
}

/** Resolves once `sql` (run on `observer`) returns a row, e.g. another connection waits on a lock; 5 s at most. */
export async function waitUntilBlocked(observer: TestConnection, sql: string): Promise<void> {
  for (let i = 0; i < 250; i++) {
    const rows = (await observer.query(sql)) as unknown[];
    if (rows.length > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the other connection never blocked');
}

/** node-postgres Client. */
export const connectPg: Connect = async (url) => {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {}); // a terminated backend must not crash the run
  await client.connect();
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return {
    id: rows[0]!.pid,
    query: async (sql) => (await client.query(sql)).rows,
    close: () => client.end(),
  };
};

/** postgres.js with one connection. */
export const connectPostgresJs: Connect = async (url) => {
  // max 1: raw BEGIN/COMMIT stay on one connection, as a session would use it.
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  const rows = await sql.unsafe<{ pid: number }[]>('SELECT pg_backend_pid() AS pid');
  return {
    id: rows[0]!.pid,
    query: async (text) => [...(await sql.unsafe(text))],
    close: () => sql.end({ timeout: 0 }),
  };
};

/** Connection settings from a harness URL, as mysql2, mariadb and pg take them. */
export function mysqlOptions(url: string): {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
} {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: u.pathname.slice(1),
  };
}

/** mysql2/promise connection. */
export const connectMysql2: Connect = async (url) => {
  const connection = await mysql.createConnection(mysqlOptions(url));
  connection.on('error', () => {}); // a killed connection must not crash the run
  return {
    id: connection.threadId,
    query: async (sql) => (await connection.query(sql))[0],
    close: () => connection.end().catch(() => connection.destroy()),
  };
};

/** mariadb connector connection. */
export const connectMariadb: Connect = async (url) => {
  const connection = await mariadb.createConnection({ ...mysqlOptions(url), connectTimeout: 5000 });
  connection.on('error', () => {});
  return {
    id: connection.threadId ?? -1,
    query: (sql) => connection.query(sql),
    close: () => connection.end().catch(() => connection.destroy()),
  };
};

/** Both Postgres drivers, each test runs once per driver. */
export const postgresDrivers: readonly (readonly [string, Connect])[] = [
  ['pg', connectPg],
  ['postgres.js', connectPostgresJs],
];

/** Both MySQL-family drivers against MariaDB. */
export const mariadbDrivers: readonly (readonly [string, Connect])[] = [
  ['mysql2', connectMysql2],
  ['mariadb', connectMariadb],
];
