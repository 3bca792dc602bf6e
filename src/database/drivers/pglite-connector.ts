import type { Dsn } from '../../connect/dsn.js';
import { isReusable, type Session } from '../../core/session.js';
import { pgliteConnect } from '../../sessions/pglite/pglite-connect.js';
import { LocalPool } from '../local-pool.js';
import type { DriverConnector } from './driver-connector.js';

/** One embedded PGlite database. It has a single connection, so callers take turns on it. */
export function pgliteConnector(module: unknown, target: Dsn): DriverConnector {
  const driver = pgliteConnect(module, target.path ?? 'memory');
  const pool = new LocalPool<Session>({ create: () => driver.open(), destroy: async () => {} }, 1);
  return {
    backend: () => 'postgres',
    acquire: () => pool.acquire(),
    async release(released) {
      if (!released.destroyed && released.inTransaction())
        await released.rollback().catch((error) => released.destroy(error));
      await pool.release(released, !isReusable(released));
    },
    async close() {
      await pool.close();
      await driver.close();
    },
    counts: () => pool.counts(),
  };
}
