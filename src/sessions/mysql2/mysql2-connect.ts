import { isReusable, type Session, type SessionSource } from '../../core/session.js';
import { ownedMysql2Session } from './mysql2-session.js';
import type { Mysql2ConnectionLike, Mysql2Queryable } from './mysql2-types.js';

/** How {@link mysql2Connect} opens mysql2's pool. */
export interface Mysql2ConnectOptions {
  /** Connection options (host, port, user, password, database...); holds the password: never print it. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly max: number;
  /** The server's flavor when known; otherwise read from its version string on the first connection. */
  readonly flavor?: 'mysql' | 'mariadb' | undefined;
  /** Verify lost COMMITs with commit-marker rows (see mysql2Session); default false. */
  readonly verifyCommits?: boolean;
}

/** A pooled mysql2/promise connection as a session's raw handle. */
export interface Mysql2PoolConnection extends Mysql2ConnectionLike {
  release(): void;
  destroy(): void;
  readonly connection: NonNullable<Mysql2ConnectionLike['connection']> & {
    query(
      sql: string,
      values: readonly unknown[],
    ): { stream(options: object): AsyncIterable<Record<string, unknown>> };
  };
}

/** Sessions over one mysql2 pool, with the server's flavor, its counts and mysql2's row stream. */
export interface Mysql2Connection extends SessionSource<Mysql2PoolConnection> {
  /** 'mysql' until the first connection saw a MariaDB version string (or `flavor` said so). */
  flavor(): 'mysql' | 'mariadb';
  close(): Promise<void>;
  counts(): { readonly total: number; readonly idle: number; readonly waiting: number };
  stream(session: Session, sql: string, values: readonly unknown[]): AsyncIterable<Record<string, unknown>>;
}

/** The subset of mysql2/promise we use. */
interface Mysql2Module {
  createPool(config: Record<string, unknown>): Mysql2Pool;
  createConnection(config: Record<string, unknown>): Promise<Mysql2OwnConnection>;
}

interface Mysql2OwnConnection extends Mysql2Queryable {
  end(): Promise<void>;
  on(event: 'error', listener: (error: unknown) => void): unknown;
}

interface Mysql2Pool {
  getConnection(): Promise<Mysql2PoolConnection>;
  query(sql: string, values?: unknown): Promise<[unknown, unknown]>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  /** The callback pool underneath; its counters are not public API, so every one is optional. */
  readonly pool?: {
    readonly _allConnections?: { readonly length: number };
    readonly _freeConnections?: { readonly length: number };
    readonly _connectionQueue?: { readonly length: number };
  };
}

/** Imports mysql2/promise on first use, so importing dbop never loads it. */
export function importMysql2(): Promise<unknown> {
  return import('mysql2/promise');
}

/**
 * Sessions over mysql2's own pool (until dbop's pool lands); `module` is what {@link importMysql2}
 * resolved to. A mysql:// URL may point at MariaDB: unless `flavor` is given, the first connection asks.
 */
export function mysql2Connect(module: unknown, options: Mysql2ConnectOptions): Mysql2Connection {
  const mysql2 = ((module as { default?: Mysql2Module }).default ?? module) as Mysql2Module;
  const pool = mysql2.createPool({
    ...options.config,
    waitForConnections: true,
    connectionLimit: options.max,
  });
  pool.on('error', () => {});
  // KILL QUERY and commit checks go through a connection of their own: with every pooled connection busy,
  // a KILL sent through the pool would wait behind the very statement it is meant to stop.
  const sidecar = oneShot(mysql2, options.config);
  let flavor = options.flavor;
  let inUse = 0;
  // mysql2 hands out a new promise wrapper per checkout around the same connection: one session per
  // connection keeps its error listener from piling up.
  const sessions = new WeakMap<object, Session<Mysql2PoolConnection>>();
  return {
    flavor: () => flavor ?? 'mysql',
    async acquire() {
      const connection = await pool.getConnection();
      try {
        flavor ??= await serverFlavor(connection);
      } catch (error) {
        connection.destroy();
        throw error;
      }
      inUse += 1;
      let session = sessions.get(connection.connection);
      if (session === undefined || session.destroyed) {
        session = ownedMysql2Session(connection, {
          flavor,
          sidecar,
          verifyCommits: options.verifyCommits === true,
        });
        sessions.set(connection.connection, session);
      }
      return session;
    },
    async release(session) {
      inUse -= 1;
      if (!isReusable(session)) session.raw.destroy();
      else session.raw.release();
    },
    close: () => pool.end(),
    counts: () => {
      const core = pool.pool;
      const idle = core?._freeConnections?.length ?? 0;
      return {
        total: core?._allConnections?.length ?? inUse + idle,
        idle,
        waiting: core?._connectionQueue?.length ?? 0,
      };
    },
    stream: (session, sql, values) =>
      (session.raw as Mysql2PoolConnection).connection.query(sql, values).stream({ objectMode: true }),
  };
}

async function serverFlavor(connection: Mysql2PoolConnection): Promise<'mysql' | 'mariadb'> {
  const [rows] = await connection.query('SELECT VERSION() AS version');
  const version = (rows as Array<{ version?: unknown }>)[0]?.version;
  return String(version ?? '').includes('MariaDB') ? 'mariadb' : 'mysql';
}

/** Runs each query on a new mysql2 connection outside the pool, closed once the query is done. */
function oneShot(mysql2: Mysql2Module, config: Readonly<Record<string, unknown>>): Mysql2Queryable {
  return {
    async query(sql, values) {
      const connection = await mysql2.createConnection({ ...config });
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
