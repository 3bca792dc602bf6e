import type { Session } from '../../core/session.js';
import { type PgFactoryClient, pgFactory } from '../../pool/factories/pg-factory.js';
import { createPool } from '../../pool/pool.js';
import { pgPoolSourceWith } from '../../sessions/pg/pg-pool-source.js';
import type { PgPooledClientLike } from '../../sessions/pg/pg-types.js';
import type { ConnectorSettings, DriverConnector } from './driver-connector.js';

type PooledClient = PgFactoryClient & PgPooledClientLike;

/**
 * PostgreSQL through pg on dbop's pool. The pool is shaped like pg's Pool for pgPoolSource, so sessions
 * work as with pg's own, and `Client` and `options` give cancels and commit lookups a short-lived client
 * outside the pool (a full pool, or one being refilled after a restart, never holds them up).
 */
export function pgConnector(
  module: unknown,
  config: Readonly<Record<string, unknown>>,
  settings: ConnectorSettings,
): DriverConnector {
  const pg = ((module as { default?: unknown }).default ?? module) as { Client: unknown };
  const factory = pgFactory(config, { driver: pg });
  // Each client gets its release() once, when made, rather than at every checkout.
  const pool = createPool(
    { ...factory, create: async (signal) => withRelease(await factory.create(signal)) },
    {
      name: settings.name,
      max: settings.max,
      connectTimeoutMs: settings.connectTimeoutMs,
      ...settings.pool,
    },
  );
  // pg-pool's contract on each client: release() gives it back, release(true or an error) destroys it.
  const release = (client: PooledClient, destroy?: boolean | Error): void => {
    if (destroy === undefined || destroy === false) pool.release(client);
    else pool.destroy(client, destroy instanceof Error ? destroy : undefined);
  };
  const withRelease = (client: PgFactoryClient): PooledClient => {
    const pooled = client as PooledClient;
    pooled.release ??= (destroy?: boolean | Error) => release(pooled, destroy);
    return pooled;
  };
  const checkout = (signal?: AbortSignal): Promise<PooledClient> =>
    pool.acquire(signal === undefined ? undefined : { signal }) as Promise<PooledClient>;
  const source = pgPoolSourceWith(
    {
      Client: pg.Client,
      options: config,
      connect: checkout,
      query: (text: string, values?: unknown[]) =>
        pool.use((client) =>
          (client as PooledClient & { query(t: string, v?: unknown[]): Promise<unknown> }).query(
            text,
            values,
          ),
        ),
    } as never,
    checkout as never,
  );
  return {
    backend: () => 'postgres',
    acquire: (signal): Promise<Session> => source.acquire(signal) as Promise<Session>,
    release: (session) => source.release(session as never),
    close: () => pool.close(),
    counts() {
      const { size, idle, pending } = pool.stats();
      return { total: size, idle, waiting: pending };
    },
  };
}
