import type { Session } from '../../core/session.js';
import { type PgFactoryClient, pgFactory } from '../../pool/factories/pg-factory.js';
import { createPool } from '../../pool/pool.js';
import { pgPoolSource } from '../../sessions/pg/pg-pool-source.js';
import type { PgPooledClientLike } from '../../sessions/pg/pg-types.js';
import type { ConnectorSettings, DriverConnector } from './driver-connector.js';

type PooledClient = PgFactoryClient & PgPooledClientLike;

/**
 * PostgreSQL through pg with dbop's pool (it measures faster than pg.Pool: bench/pool.bench.ts). The pool
 * is shaped like pg's Pool for pgPoolSource, so sessions, cancels and commit checks work as with pg's own:
 * `Client` and `options` give cancels a short-lived client outside the pool.
 */
export function pgConnector(
  module: unknown,
  config: Readonly<Record<string, unknown>>,
  settings: ConnectorSettings,
): DriverConnector {
  const pg = ((module as { default?: unknown }).default ?? module) as { Client: unknown };
  const pool = createPool(pgFactory(config, { driver: pg }), {
    name: settings.name,
    max: settings.max,
    connectTimeoutMs: settings.connectTimeoutMs,
    ...settings.pool,
  });
  const source = pgPoolSource({
    Client: pg.Client,
    options: config,
    async connect(): Promise<PooledClient> {
      const client = (await pool.acquire()) as PooledClient;
      // pg-pool's contract: release() gives the client back, release(true or an error) destroys it.
      client.release ??= (destroy?: boolean | Error) => {
        if (destroy === undefined || destroy === false) pool.release(client);
        else pool.destroy(client, destroy instanceof Error ? destroy : undefined);
      };
      return client;
    },
    query: (text: string, values?: unknown[]) =>
      pool.use((client) =>
        (client as PooledClient & { query(t: string, v?: unknown[]): Promise<unknown> }).query(text, values),
      ),
  } as never);
  return {
    backend: () => 'postgres',
    acquire: (): Promise<Session> => source.acquire() as Promise<Session>,
    release: (session) => source.release(session as never),
    close: () => pool.close(),
    counts() {
      const { size, idle, pending } = pool.stats();
      return { total: size, idle, waiting: pending };
    },
  };
}
