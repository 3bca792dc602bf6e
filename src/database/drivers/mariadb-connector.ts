import { mariadbSession } from '../../sessions/mariadb/mariadb-session.js';
import type { MariadbConnectionLike } from '../../sessions/mariadb/mariadb-types.js';
import type { DatabaseTarget } from '../database-url.js';
import type { ConnectorSettings, DriverConnector, RowStream } from './driver-connector.js';
import { mysqlPoolConfig } from './mysql-pool-config.js';

/** The subset of the mariadb connector we use. */
interface MariadbModule {
  createPool(config: Record<string, unknown>): MariadbPool;
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

interface MariadbPoolConnection extends MariadbConnectionLike {
  release(): Promise<void>;
  destroy(): void;
  queryStream(sql: string, values: readonly unknown[]): RowStream;
}

/** Sessions over the mariadb connector's own pool (until dbop's pool lands). */
export function mariadbConnector(
  module: unknown,
  target: DatabaseTarget,
  settings: ConnectorSettings,
): DriverConnector {
  const mariadb = ((module as { default?: MariadbModule }).default ?? module) as MariadbModule;
  const { config } = mysqlPoolConfig(target, settings);
  const pool = mariadb.createPool({
    ...config,
    connectionLimit: settings.max,
    acquireTimeout: settings.connectTimeoutMs,
  });
  pool.on('error', () => {});
  return {
    backend: () => 'mariadb',
    async acquire() {
      return mariadbSession(await pool.getConnection(), { flavor: 'mariadb', sidecar: pool });
    },
    async release(session) {
      const connection = session.raw as MariadbPoolConnection;
      if (session.destroyed || session.inTransaction()) connection.destroy();
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
