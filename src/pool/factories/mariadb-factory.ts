import { importMariadb } from '../../sessions/mariadb/mariadb-connect.js';
import type { ConnectionStatus, PoolFactory } from '../pool-factory.js';
import { lazyModule } from './lazy-module.js';
import { type MysqlFamilyModule, mysqlFamilyLifecycle } from './mysql-family.js';

/** The subset of a mariadb Connection the factory uses. */
export interface MariadbFactoryConnection {
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
  destroy(): void;
  isValid?(): boolean;
  readonly info?: { readonly status?: number | null } | null;
  on(event: 'error', listener: (error: unknown) => void): unknown;
}

/** Options of {@link mariadbFactory}. */
export interface MariadbFactoryOptions {
  /** The mariadb module itself; default: imported on first use. */
  readonly driver?: unknown;
}

/**
 * Opens mariadb connections with `config`. The driver keeps the status flags of the server's last OK
 * packet (SERVER_STATUS_IN_TRANS), so the transaction state costs no round trip.
 */
export function mariadbFactory(
  config: Readonly<Record<string, unknown>>,
  options?: MariadbFactoryOptions,
): PoolFactory<MariadbFactoryConnection> {
  const load = lazyModule<MysqlFamilyModule<MariadbFactoryConnection>>(importMariadb, options?.driver);
  const ended = new WeakSet<MariadbFactoryConnection>();
  return {
    ...mysqlFamilyLifecycle(load, config, ended),
    async ping(connection) {
      await connection.query('SELECT 1');
    },
    status(connection): ConnectionStatus {
      if (ended.has(connection) || connection.isValid?.() === false) return 'broken';
      const status = connection.info?.status;
      if (typeof status !== 'number') return 'unknown';
      return (status & 1) === 1 ? 'transaction' : 'idle';
    },
    async reset(connection) {
      await connection.query('ROLLBACK');
    },
    async execute(connection, sql) {
      return connection.query(sql);
    },
  };
}
