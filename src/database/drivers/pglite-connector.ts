import type { Session } from '../../core/session.js';
import { pgliteSession } from '../../sessions/pglite/pglite-session.js';
import type { PgliteLike } from '../../sessions/pglite/pglite-types.js';
import type { DatabaseTarget } from '../database-url.js';
import { LocalPool } from '../local-pool.js';
import type { DriverConnector } from './driver-connector.js';

/** The subset of PGlite we use beyond the session's. */
interface Pglite extends PgliteLike {
  close(): Promise<void>;
  readonly waitReady: Promise<void>;
}

type PgliteConstructor = new (dataDir?: string) => Pglite;

/** One embedded PGlite database. It has a single connection, so callers take turns on it. */
export function pgliteConnector(module: unknown, target: DatabaseTarget): DriverConnector {
  const PGlite = (module as { PGlite: PgliteConstructor }).PGlite;
  const instance = target.path === 'memory' ? new PGlite() : new PGlite(target.path);
  let session: Session | undefined;
  const pool = new LocalPool<Session>(
    {
      async create() {
        await instance.waitReady;
        // A destroyed session left the instance rolled back or unusable; a fresh session tracks it anew.
        session = pgliteSession(instance);
        return session;
      },
      async destroy() {},
    },
    1,
  );
  return {
    backend: () => 'postgres',
    acquire: () => pool.acquire(),
    async release(released) {
      if (!released.destroyed && released.inTransaction())
        await released.rollback().catch(() => released.destroy());
      await pool.release(released, released.destroyed);
    },
    async close() {
      await pool.close();
      await instance.close();
    },
    counts: () => pool.counts(),
  };
}
