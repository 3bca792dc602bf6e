import { pgPoolSource } from '../../sessions/pg/pg-pool-source.js';
import type { PgPoolLike } from '../../sessions/pg/pg-types.js';
import type { DatabaseTarget } from '../database-url.js';
import type { ConnectorSettings, DriverConnector } from './driver-connector.js';

/** The subset of pg's module and Pool we use. */
interface PgModule {
  readonly Pool: new (config: Record<string, unknown>) => PgPool;
}

interface PgPool extends PgPoolLike {
  end(): Promise<void>;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

/** Sessions over pg's own Pool (until dbop's pool lands). */
export function pgConnector(
  module: unknown,
  target: DatabaseTarget,
  settings: ConnectorSettings,
): DriverConnector {
  const pg = ((module as { default?: PgModule }).default ?? module) as PgModule;
  const pool = new pg.Pool({
    connectionString: target.url,
    max: settings.max,
    connectionTimeoutMillis: settings.connectTimeoutMs,
  });
  // An idle client killed by the server must not crash the process; the next acquire gets a fresh one.
  pool.on('error', () => {});
  const source = pgPoolSource(pool);
  return {
    backend: () => 'postgres',
    acquire: () => source.acquire(),
    release: (session) => source.release(session as Parameters<typeof source.release>[0]),
    close: () => pool.end(),
    counts: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
  };
}
