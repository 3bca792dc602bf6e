import type { DatabaseTarget } from '../database-url.js';
import { LocalPool } from '../local-pool.js';
import type { DriverConnector } from './driver-connector.js';

/** The subset of PGlite we use. */
interface Pglite {
  close(): Promise<void>;
  readonly waitReady: Promise<void>;
}

type PgliteConstructor = new (dataDir?: string) => Pglite;

/** One embedded PGlite database; it has a single connection, so callers take turns. */
export function pgliteConnector(module: unknown, target: DatabaseTarget): DriverConnector {
  const PGlite = (module as { PGlite: PgliteConstructor }).PGlite;
  const instance = target.path === 'memory' ? new PGlite() : new PGlite(target.path);
  const pool = new LocalPool<Pglite>(
    {
      async create() {
        await instance.waitReady;
        return instance;
      },
      // The one instance outlives a "destroyed" session: the session adapter already rolled it back.
      async destroy() {},
    },
    1,
  );
  return {
    backend: 'postgres',
    acquire: () => pool.acquire(),
    release: (raw, destroy) => pool.release(raw as Pglite, destroy),
    async close() {
      await pool.close();
      await instance.close();
    },
    counts: () => pool.counts(),
  };
}
