import { importPglite } from '../../sessions/pglite/pglite-connect.js';
import type { ConnectionStatus, PoolFactory } from '../pool-factory.js';
import { lazyModule } from './lazy-module.js';

/** The subset of a PGlite instance the factory uses. */
export interface PgliteFactoryInstance {
  readonly closed?: boolean;
  query(sql: string): Promise<unknown>;
  exec(sql: string): Promise<unknown>;
  close(): Promise<void>;
  isInTransaction?(): boolean;
  readonly waitReady?: Promise<void>;
}

interface PgliteModule {
  readonly PGlite: new (dataDir?: string) => PgliteFactoryInstance;
}

/** Options of {@link pgliteFactory}. */
export interface PgliteFactoryOptions {
  /** The @electric-sql/pglite module itself; default: imported on first use. */
  readonly driver?: unknown;
}

/**
 * Opens PGlite instances on `dataDir` (undefined or 'memory://' for memory). PGlite is one connection
 * per database: use it with `max: 1`.
 */
export function pgliteFactory(
  dataDir?: string,
  options?: PgliteFactoryOptions,
): PoolFactory<PgliteFactoryInstance> {
  const load = lazyModule<PgliteModule>(importPglite, options?.driver);
  return {
    async create(signal) {
      const { PGlite } = await load();
      signal.throwIfAborted();
      const db = new PGlite(dataDir);
      await db.waitReady;
      return db;
    },
    async destroy(db) {
      if (db.closed !== true) await db.close();
    },
    async ping(db) {
      await db.query('SELECT 1');
    },
    status(db): ConnectionStatus {
      if (db.closed === true) return 'broken';
      const open = db.isInTransaction?.();
      return open === undefined ? 'unknown' : open ? 'transaction' : 'idle';
    },
    async reset(db) {
      await db.exec('ROLLBACK');
    },
    async execute(db, sql) {
      return db.exec(sql);
    },
  };
}
