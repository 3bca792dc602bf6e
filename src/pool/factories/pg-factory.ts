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

/** pg's wire connection (client.connection): its 'errorMessage' event carries each ErrorResponse. */
interface PgWire {
  on?(event: 'errorMessage', listener: (message: { severity?: string; code?: string }) => void): unknown;
}

// The server ends the session after this error: severity FATAL or PANIC (in English), or the codes of a
// backend ended by an administrator or a crash and of connection exceptions (whatever lc_messages says).
function endsSession(message: { severity?: string; code?: string }): boolean {
  const code = message.code ?? '';
  return (
    message.severity === 'FATAL' ||
    message.severity === 'PANIC' ||
    code.startsWith('08') ||
    code === '57P01' ||
    code === '57P02' ||
    code === '57P03'
  );
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
      // A FATAL from the server (pg_terminate_backend, shutdown) reaches the running query as its error, and
      // the socket's end (pg's 'error' event) only comes later: a client given back in between, the error
      // swallowed, would be lent again dead. pg's connection reports each ErrorResponse first.
      (client as { connection?: PgWire }).connection?.on?.('errorMessage', (message) => {
        if (endsSession(message)) ended.add(client);
      });
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
