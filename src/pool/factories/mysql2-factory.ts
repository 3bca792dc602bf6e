import { importMysql2 } from '../../sessions/mysql2/mysql2-connect.js';
import type { PoolFactory } from '../pool-factory.js';
import { lazyModule } from './lazy-module.js';
import { type MysqlFamilyModule, mysqlFamilyLifecycle } from './mysql-family.js';

/** The subset of a mysql2/promise Connection the factory uses. */
export interface Mysql2FactoryConnection {
  query(sql: string): Promise<[unknown, unknown]>;
  end(): Promise<void>;
  destroy(): void;
  on(event: 'error', listener: (error: unknown) => void): unknown;
}

/** Options of {@link mysql2Factory}. */
export interface Mysql2FactoryOptions {
  /** The mysql2/promise module itself; default: imported on first use. */
  readonly driver?: unknown;
}

const inTransaction = 1; // SERVER_STATUS_IN_TRANS

/**
 * Opens mysql2/promise connections with `config`. mysql2 keeps no copy of the server status, so a
 * released connection is probed with `DO 0`, whose OK packet carries SERVER_STATUS_IN_TRANS: one round
 * trip per release buys never reusing a connection inside a transaction.
 */
export function mysql2Factory(
  config: Readonly<Record<string, unknown>>,
  options?: Mysql2FactoryOptions,
): PoolFactory<Mysql2FactoryConnection> {
  const load = lazyModule<MysqlFamilyModule<Mysql2FactoryConnection>>(importMysql2, options?.driver);
  const ended = new WeakSet<Mysql2FactoryConnection>();
  return {
    ...mysqlFamilyLifecycle(load, config, ended),
    async ping(connection) {
      await connection.query('SELECT 1');
    },
    status: (connection) => (ended.has(connection) ? 'broken' : 'unknown'),
    async reset(connection) {
      const [header] = await connection.query('DO 0');
      const status = (header as { serverStatus?: unknown } | null)?.serverStatus;
      if (typeof status !== 'number' || (status & inTransaction) !== 0)
        throw new Error('the connection is still inside a transaction');
    },
    async execute(connection, sql) {
      return (await connection.query(sql))[0];
    },
  };
}
