import type { PoolFactory } from '../pool-factory.js';
import { abortable } from './lazy-module.js';

/** What mysql2/promise and mariadb connections share, as the factories use it. */
export interface MysqlFamilyConnection {
  end(): Promise<void>;
  destroy(): void;
  on(event: 'error', listener: (error: unknown) => void): unknown;
}

/** A driver module's createConnection (mysql2/promise's and mariadb's have the same shape). */
export interface MysqlFamilyModule<C> {
  createConnection(config: Record<string, unknown>): Promise<C>;
}

/**
 * Opening, ending and error hookup, the same for mysql2 and mariadb. `ended` collects the connections
 * that reported an error or were ended, so status() can call them broken without a round trip.
 */
export function mysqlFamilyLifecycle<C extends MysqlFamilyConnection>(
  load: () => Promise<MysqlFamilyModule<C>>,
  config: Readonly<Record<string, unknown>>,
  ended: WeakSet<C>,
): Pick<PoolFactory<C>, 'create' | 'destroy' | 'onError'> {
  return {
    async create(signal) {
      const driver = await load();
      const opening = driver.createConnection({ ...config });
      const connection = await abortable(signal, opening, async () => (await opening).destroy());
      connection.on('error', () => ended.add(connection));
      return connection;
    },
    async destroy(connection, signal) {
      ended.add(connection);
      // mysql2 queues its quit behind a statement still running: on a half-open socket it never ends.
      const drop = (): void => connection.destroy();
      signal?.addEventListener('abort', drop, { once: true });
      try {
        await connection.end().catch(drop);
      } finally {
        signal?.removeEventListener('abort', drop);
      }
    },
    onError(connection, listener) {
      connection.on('error', listener);
    },
  };
}
