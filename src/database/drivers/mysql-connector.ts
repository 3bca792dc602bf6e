import type { DatabaseTarget } from '../database-url.js';
import type { ConnectorSettings, DriverConnector, RowStream } from './driver-connector.js';

/** The subset of mysql2/promise and mariadb we use: both pools look alike. */
interface MysqlPool {
  getConnection(): Promise<MysqlConnection>;
  end(): Promise<void>;
  on?(event: 'error', listener: (error: unknown) => void): unknown;
}

interface MysqlConnection {
  release(): unknown;
  destroy(): unknown;
  /** mariadb only. */
  queryStream?(sql: string, values: readonly unknown[]): RowStream & { destroy?(): void };
  /** mysql2/promise only: the callback connection underneath. */
  readonly connection?: { query(sql: string, values: readonly unknown[]): { stream(options: object): RowStream } };
}

type CreatePool = (config: Record<string, unknown>) => MysqlPool;

/** Connections from mysql2's or mariadb's own pool (until dbop's pool lands). */
export function mysqlConnector(
  module: unknown,
  target: DatabaseTarget,
  settings: ConnectorSettings,
): DriverConnector {
  const driver = module as { createPool?: CreatePool; default?: { createPool?: CreatePool } };
  const createPool = driver.createPool ?? driver.default?.createPool;
  if (createPool === undefined) throw new TypeError(`The ${target.driver} module has no createPool()`);
  const mariadb = target.driver === 'mariadb';
  const host = target.hosts?.[0];
  const pool = createPool({
    ...target.query,
    host: host?.host,
    port: host?.port ?? 3306,
    user: target.user,
    password: target.password,
    database: target.database,
    connectTimeout: settings.connectTimeoutMs,
    ...(mariadb ? { connectionLimit: settings.max } : { connectionLimit: settings.max, waitForConnections: true }),
  });
  pool.on?.('error', () => {});
  let inUse = 0;
  return {
    backend: target.backend,
    async acquire() {
      const connection = await pool.getConnection();
      inUse += 1;
      return connection;
    },
    async release(raw, destroy) {
      inUse -= 1;
      const connection = raw as MysqlConnection;
      if (destroy) connection.destroy();
      else await connection.release();
    },
    close: () => pool.end(),
    counts: () => ({ total: inUse, idle: 0, waiting: 0 }),
    stream(raw, sql, values) {
      const connection = raw as MysqlConnection;
      if (connection.queryStream !== undefined) return connection.queryStream(sql, values);
      if (connection.connection !== undefined) return connection.connection.query(sql, values).stream({ objectMode: true });
      throw new TypeError(`The ${target.driver} connection cannot stream`);
    },
  };
}
