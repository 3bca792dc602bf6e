import { isReusable, type Session, type SessionSource } from '../../core/session.js';
import { mariadbSession } from './mariadb-session.js';
import type { MariadbConnectionLike, MariadbQueryable } from './mariadb-types.js';

/** How {@link mariadbConnect} opens the connector's pool. */
export interface MariadbConnectOptions {
  /** Connection options (host, port, user, password, database...); holds the password: never print it. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly max: number;
  readonly connectTimeoutMs: number;
  /** How long getConnection() waits for a connection, ms; default connectTimeoutMs. */
  readonly acquireTimeoutMs?: number;
  /** Verify lost COMMITs with commit-marker rows (see mariadbSession); default false. */
  readonly verifyCommits?: boolean;
}

/** A pooled mariadb connection as a session's raw handle. */
export interface MariadbPoolConnection extends MariadbConnectionLike {
  release(): Promise<void>;
  destroy(): void;
  queryStream(sql: string, values: readonly unknown[]): AsyncIterable<Record<string, unknown>>;
}

/** Sessions over one mariadb pool, with its counts and the connector's own row stream. */
export interface MariadbConnection extends SessionSource<MariadbPoolConnection> {
  close(): Promise<void>;
  counts(): { readonly total: number; readonly idle: number; readonly waiting: number };
  stream(session: Session, sql: string, values: readonly unknown[]): AsyncIterable<Record<string, unknown>>;
}

/** The subset of the mariadb connector we use. */
interface MariadbModule {
  createPool(config: Record<string, unknown>): MariadbPool;
  createConnection(config: Record<string, unknown>): Promise<MariadbOwnConnection>;
}

interface MariadbOwnConnection extends MariadbQueryable {
  end(): Promise<void>;
  on(event: 'error', listener: (error: unknown) => void): unknown;
}

interface MariadbPool {
  getConnection(): Promise<MariadbPoolConnection>;
  query(sql: string, values?: unknown): Promise<unknown>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  totalConnections(): number;
  idleConnections(): number;
  taskQueueSize(): number;
}

/** Imports the mariadb connector on first use, so importing dbop never loads it. */
export function importMariadb(): Promise<unknown> {
  return import('mariadb');
}

/**
 * Sessions over the mariadb connector's own pool (until dbop's pool lands); `module` is what
 * {@link importMariadb} resolved to.
 */
export function mariadbConnect(module: unknown, options: MariadbConnectOptions): MariadbConnection {
  const mariadb = ((module as { default?: MariadbModule }).default ?? module) as MariadbModule;
  const pool = mariadb.createPool({
    ...options.config,
    connectionLimit: options.max,
    acquireTimeout: options.acquireTimeoutMs ?? options.connectTimeoutMs,
    // The connector's default (true) appends every parameter value to error messages: a password
    // inserted by a failing statement would end up in logs.
    logParam: false,
  });
  pool.on('error', () => {});
  // KILL QUERY and commit checks go through a connection of their own: with every pooled connection busy,
  // a KILL sent through the pool would wait behind the very statement it is meant to stop.
  const sidecar = oneShot(mariadb, { ...options.config, logParam: false });
  // The connector wraps the same connection anew at every checkout; one session per connection (found by
  // its info object, which every wrapper shares) keeps what dbop knows of it, such as the timeouts it
  // already has as its own settings, so they are not sent again with every transaction.
  const sessions = new WeakMap<object, Session<MariadbPoolConnection>>();
  return {
    async acquire(): Promise<Session<MariadbPoolConnection>> {
      const connection = await pool.getConnection();
      const key =
        typeof connection.info === 'object' && connection.info !== null ? connection.info : connection;
      let session = sessions.get(key);
      if (session === undefined || session.destroyed) {
        session = mariadbSession(connection, {
          flavor: 'mariadb',
          sidecar,
          verifyCommits: options.verifyCommits === true,
        });
        sessions.set(key, session);
      }
      return session;
    },
    async release(session) {
      const connection = session.raw;
      if (!isReusable(session)) connection.destroy();
      else await connection.release();
    },
    close: () => pool.end(),
    counts: () => ({
      total: pool.totalConnections(),
      idle: pool.idleConnections(),
      waiting: pool.taskQueueSize(),
    }),
    stream: (session, sql, values) => (session.raw as MariadbPoolConnection).queryStream(sql, values),
  };
}

/** Runs each query on a new mariadb connection outside the pool, closed once the query is done. */
function oneShot(mariadb: MariadbModule, config: Readonly<Record<string, unknown>>): MariadbQueryable {
  return {
    async query(sql, values) {
      const connection = await mariadb.createConnection({ ...config });
      // A connection dropped mid-way rejects the pending call; the listener keeps it from crashing the process.
      connection.on('error', () => {});
      try {
        return await connection.query(sql, values);
      } finally {
        connection.end().catch(() => undefined);
      }
    },
  };
}
