import { importBetterSqlite3 } from '../../sessions/better-sqlite3/better-sqlite3-connect.js';
import type { ConnectionStatus, PoolFactory } from '../pool-factory.js';
import { lazyModule } from './lazy-module.js';

/** The subset of a better-sqlite3 Database the factory uses. */
export interface SqliteFactoryDatabase {
  readonly open: boolean;
  readonly inTransaction: boolean;
  exec(sql: string): unknown;
  close(): unknown;
}

type SqliteModule = new (path: string, options?: Record<string, unknown>) => SqliteFactoryDatabase;

/** Options of {@link sqliteFactory}. */
export interface SqliteFactoryOptions {
  /** Options passed to `new Database(path, options)`. */
  readonly databaseOptions?: Readonly<Record<string, unknown>>;
  /** The better-sqlite3 module itself; default: imported on first use. */
  readonly driver?: unknown;
}

/**
 * Opens better-sqlite3 databases on `path`. The transaction state is SQLite's own (autocommit off means
 * a transaction is open), so a connection released inside one is destroyed.
 */
export function sqliteFactory(
  path: string,
  options?: SqliteFactoryOptions,
): PoolFactory<SqliteFactoryDatabase> {
  if (typeof path !== 'string' || path === '')
    throw new TypeError('Expected `path` to be a non-empty string');
  const load = lazyModule<SqliteModule>(importBetterSqlite3, options?.driver);
  return {
    async create(signal) {
      const Database = await load();
      signal.throwIfAborted();
      return new Database(path, { ...options?.databaseOptions });
    },
    destroy(db) {
      if (db.open) db.close();
    },
    async ping(db) {
      db.exec('SELECT 1');
    },
    status(db): ConnectionStatus {
      if (!db.open) return 'broken';
      return db.inTransaction ? 'transaction' : 'idle';
    },
    async reset(db) {
      if (db.inTransaction) db.exec('ROLLBACK');
    },
    async execute(db, sql) {
      return db.exec(sql);
    },
  };
}
