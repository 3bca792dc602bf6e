import type { Session } from '../../core/session.js';
import { mysql2Session } from '../../sessions/mysql2/mysql2-session.js';
import type { Mysql2ConnectionLike } from '../../sessions/mysql2/mysql2-types.js';
import type { DatabaseTarget } from '../database-url.js';
import type { ConnectorSettings, DriverConnector, RowStream } from './driver-connector.js';
import { mysqlPoolConfig, serverFlavor } from './mysql-pool-config.js';

/** The subset of mysql2/promise we use. */
interface Mysql2Module {
  createPool(config: Record<string, unknown>): Mysql2Pool;
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

interface Mysql2PoolConnection extends Mysql2ConnectionLike {
  release(): void;
  destroy(): void;
  readonly connection: NonNullable<Mysql2ConnectionLike['connection']> & {
    query(sql: string, values: readonly unknown[]): { stream(options: object): RowStream };
  };
}

/**
 * Sessions over mysql2's own pool (until dbop's pool lands). A mysql:// URL may point at MariaDB: the
 * flavor (error numbers, timeout SQL) comes from `?flavor=` or the server's version string.
 */
export function mysql2Connector(
  module: unknown,
  target: DatabaseTarget,
  settings: ConnectorSettings,
): DriverConnector {
  const mysql2 = ((module as { default?: Mysql2Module }).default ?? module) as Mysql2Module;
  const { flavor: given, config } = mysqlPoolConfig(target, settings);
  const pool = mysql2.createPool({ ...config, waitForConnections: true, connectionLimit: settings.max });
  pool.on('error', () => {});
  let flavor = given;
  let inUse = 0;
  // mysql2 hands out a new promise wrapper per checkout around the same connection: one session per
  // connection keeps its error listener from piling up.
  const sessions = new WeakMap<object, Session>();
  return {
    backend: () => flavor ?? 'mysql',
    async acquire() {
      const connection = await pool.getConnection();
      try {
        flavor ??= await serverFlavor((sql) => connection.query(sql).then(([rows]) => rows));
      } catch (error) {
        connection.destroy();
        throw error;
      }
      inUse += 1;
      let session = sessions.get(connection.connection);
      if (session === undefined || session.destroyed) {
        session = mysql2Session(connection, { flavor, sidecar: pool });
        sessions.set(connection.connection, session);
      }
      return session;
    },
    async release(session) {
      inUse -= 1;
      const connection = session.raw as Mysql2PoolConnection;
      if (session.destroyed || session.inTransaction()) connection.destroy();
      else connection.release();
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
