import { importPg } from '../../sessions/pg/pg-connect.js';
import type { ConnectionStatus, PoolFactory } from '../pool-factory.js';
import { abortable, lazyModule } from './lazy-module.js';

/** The subset of a pg Client the factory uses. */
export interface PgFactoryClient {
  connect(): Promise<unknown>;
  end(): Promise<void>;
  query(sql: string): Promise<unknown>;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  /** pg >= 8.12: the status of the last ReadyForQuery ('I' idle, 'T' in a transaction, 'E' failed one). */
  getTransactionStatus?(): string | null;
}

interface PgModule {
  readonly Client: new (config: Record<string, unknown>) => PgFactoryClient;
}

/** Options of {@link pgFactory}. */
export interface PgFactoryOptions {
  /** The pg module itself; default: imported on first use. */
  readonly driver?: unknown;
}

/**
 * Opens pg Clients with `config` (host, port, user, password, database, ssl...). The transaction state
 * comes from the server's own ReadyForQuery status, so a client given back inside an open or failed
 * transaction is destroyed, never reused.
 */
export function pgFactory(
  config: Readonly<Record<string, unknown>>,
  options?: PgFactoryOptions,
): PoolFactory<PgFactoryClient> {
  const load = lazyModule<PgModule>(importPg, options?.driver);
  const ended = new WeakSet<PgFactoryClient>();
  return {
    async create(signal) {
      const pg = await load();
      const client = new pg.Client({ ...config });
      // Attached before connect: a socket error at any time is an event, never an uncaught exception.
      client.on('error', () => ended.add(client));
      await abortable(signal, client.connect(), () => client.end());
      return client;
    },
    async destroy(client) {
      ended.add(client);
      await client.end();
    },
    async ping(client) {
      await client.query('SELECT 1');
    },
    status(client): ConnectionStatus {
      if (ended.has(client)) return 'broken';
      const status = client.getTransactionStatus?.();
      if (status === 'I') return 'idle';
      if (status === 'T' || status === 'E') return 'transaction';
      return 'unknown';
    },
    async reset(client) {
      await client.query('ROLLBACK');
    },
    async execute(client, sql) {
      return client.query(sql);
    },
    onError(client, listener) {
      client.on('error', listener);
    },
  };
}
