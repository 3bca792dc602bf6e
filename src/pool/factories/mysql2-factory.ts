import { importMysql2 } from '../../sessions/mysql2/mysql2-connect.js';
import {
  mysql2StatusAfter,
  statusInTransaction,
  statusWithoutFlags,
} from '../../sessions/shared/mysql-family.js';
import type { ConnectionStatus, PoolFactory } from '../pool-factory.js';
import { lazyModule } from './lazy-module.js';
import { type MysqlFamilyModule, mysqlFamilyLifecycle } from './mysql-family.js';

/** The subset of a mysql2/promise Connection the factory uses. */
export interface Mysql2FactoryConnection {
  query(sql: string, values?: unknown): Promise<[unknown, unknown]>;
  end(): Promise<void>;
  destroy(): void;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  /** The callback connection underneath: its handshake carries the first status flags. */
  readonly connection?: {
    readonly _handshakePacket?: { readonly statusFlags?: unknown } | null;
    readonly config?: { readonly multipleStatements?: boolean };
  };
}

/** Options of {@link mysql2Factory}. */
export interface Mysql2FactoryOptions {
  /** The mysql2/promise module itself; default: imported on first use. */
  readonly driver?: unknown;
}

/**
 * Opens mysql2/promise connections with `config`. mysql2 keeps the server's status flags only on the OK
 * packet it returns (a result set's closing EOF is read and dropped), so each connection's query() notes
 * them: from the handshake, every OK packet, and carried over result sets and errors while autocommit is
 * on. A connection given back inside a transaction is destroyed; only when the flags are unknown (autocommit
 * off, an error inside a transaction) is it probed with `DO 0`, whose OK packet says.
 */
export function mysql2Factory(
  config: Readonly<Record<string, unknown>>,
  options?: Mysql2FactoryOptions,
): PoolFactory<Mysql2FactoryConnection> {
  const load = lazyModule<MysqlFamilyModule<Mysql2FactoryConnection>>(importMysql2, options?.driver);
  const ended = new WeakSet<Mysql2FactoryConnection>();
  const flags = new WeakMap<Mysql2FactoryConnection, number | undefined>();
  const lifecycle = mysqlFamilyLifecycle(load, config, ended);
  const track = (connection: Mysql2FactoryConnection): void => {
    const handshake = connection.connection?._handshakePacket?.statusFlags;
    flags.set(connection, typeof handshake === 'number' ? handshake : undefined);
    const multi = connection.connection?.config?.multipleStatements === true;
    const methods = connection as unknown as Record<string, unknown>;
    // On this connection object only (the factory made it): every statement sent through query() or
    // execute() updates the flags; after the methods that send statements of their own they are unknown.
    for (const name of ['query', 'execute'] as const) {
      const send = methods[name] as ((...args: unknown[]) => Promise<[unknown, unknown]>) | undefined;
      if (typeof send !== 'function') continue;
      methods[name] = (...args: unknown[]) =>
        send.apply(connection, args).then(
          (answer) => {
            flags.set(connection, mysql2StatusAfter(flags.get(connection), answer[0], multi));
            return answer;
          },
          (error: unknown) => {
            flags.set(connection, statusWithoutFlags(flags.get(connection), true, multi));
            // The connection died under this statement (KILL CONNECTION, a lost socket): mysql2 gives the
            // error to the statement only, with no 'error' event, so the flags above would still say idle.
            if ((error as { fatal?: unknown } | null)?.fatal === true) ended.add(connection);
            throw error;
          },
        );
    }
    for (const name of ['beginTransaction', 'commit', 'rollback', 'prepare', 'changeUser']) {
      const call = methods[name] as ((...args: unknown[]) => Promise<unknown>) | undefined;
      if (typeof call !== 'function') continue;
      methods[name] = (...args: unknown[]) => {
        flags.set(connection, undefined);
        return call.apply(connection, args);
      };
    }
  };
  return {
    ...lifecycle,
    async create(signal) {
      const connection = await lifecycle.create(signal);
      track(connection);
      return connection;
    },
    async ping(connection) {
      await connection.query('SELECT 1');
    },
    status(connection): ConnectionStatus {
      if (ended.has(connection)) return 'broken';
      const status = flags.get(connection);
      if (status === undefined) return 'unknown';
      return (status & statusInTransaction) === 0 ? 'idle' : 'transaction';
    },
    async reset(connection) {
      await connection.query('DO 0');
      if ((flags.get(connection) ?? statusInTransaction) & statusInTransaction)
        throw new Error('the connection is still inside a transaction');
    },
    async execute(connection, sql) {
      return (await connection.query(sql))[0];
    },
  };
}
