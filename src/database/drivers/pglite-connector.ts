import type { Dsn } from '../../connect/dsn.js';
import type { Session } from '../../core/session.js';
import { type PgliteInstance, pgliteConnect } from '../../sessions/pglite/pglite-connect.js';
import type { ConnectorSettings, DriverConnector } from './driver-connector.js';
import { sessionPool } from './session-pool.js';

/** One embedded PGlite database. It has a single connection, so callers take turns on it. */
export function pgliteConnector(module: unknown, target: Dsn, settings: ConnectorSettings): DriverConnector {
  const driver = pgliteConnect(module, target.path ?? 'memory');
  // The instance outlives its sessions: closing one session must not close the database.
  const pool = sessionPool(
    () => driver.open(),
    () => {},
    {
      name: settings.name,
      connectTimeoutMs: settings.connectTimeoutMs,
      ...settings.pool,
      max: 1,
      minIdle: Math.min(1, settings.pool.minIdle ?? 0),
    },
  );
  return {
    backend: () => 'postgres',
    acquire: (signal) => pool.acquire(signal),
    release: (session) => pool.release(session as Session<PgliteInstance>),
    async close() {
      await pool.close();
      await driver.close();
    },
    counts: () => pool.counts(),
  };
}
