import { importMariadb } from '../../sessions/mariadb/mariadb-connect.js';
import type { ConnectionStatus, PoolFactory } from '../pool-factory.js';
import { abortable, lazyModule } from './lazy-module.js';

/** The subset of a mariadb Connection the factory uses. */
export interface MariadbFactoryConnection {
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
  destroy(): void;
  isValid?(): boolean;
  readonly info?: { readonly status?: number | null } | null;
  on(event: 'error', listener: (error: unknown) => void): unknown;
}

interface MariadbModule {
  createConnection(config: Record<string, unknown>): Promise<MariadbFactoryConnection>;
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
  const load = lazyModule<MariadbModule>(importMariadb, options?.driver);
  const ended = new WeakSet<MariadbFactoryConnection>();
  return {
    async create(signal) {
      const mariadb = await load();
      const opening = mariadb.createConnection({ ...config });
      const connection = await abortable(signal, opening, async () => (await opening).destroy());
      connection.on('error', () => ended.add(connection));
      return connection;
    },
    async destroy(connection) {
      ended.add(connection);
      await connection.end().catch(() => connection.destroy());
    },
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
    onError(connection, listener) {
      connection.on('error', listener);
    },
  };
}
