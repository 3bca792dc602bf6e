import type { DatabaseTarget } from '../database-url.js';
import { LocalPool } from '../local-pool.js';
import type { ConnectorSettings, DriverConnector } from './driver-connector.js';

/** The subset of a better-sqlite3 Database we use. */
interface SqliteDatabase {
  pragma(source: string): unknown;
  prepare(sql: string): { readonly reader: boolean; iterate(...values: unknown[]): Iterable<Record<string, unknown>>; run(...values: unknown[]): unknown };
  close(): void;
}

type SqliteConstructor = new (path: string, options: { timeout: number }) => SqliteDatabase;

/**
 * Several better-sqlite3 connections to one file. Waiting for a lock inside the driver blocks the event
 * loop, so the busy timeout is small and dbop's async backoff does the waiting.
 */
export function sqliteConnector(module: unknown, target: DatabaseTarget, settings: ConnectorSettings): DriverConnector {
  const Sqlite = ((module as { default?: SqliteConstructor }).default ?? module) as SqliteConstructor;
  const path = target.path ?? ':memory:';
  // Each :memory: connection is its own database: one connection is the only coherent pool.
  const max = path === ':memory:' ? 1 : settings.max;
  const pool = new LocalPool<SqliteDatabase>(
    {
      async create() {
        const db = new Sqlite(path, { timeout: settings.busyTimeoutMs });
        if (settings.wal && path !== ':memory:') db.pragma('journal_mode = WAL');
        return db;
      },
      async destroy(db) {
        db.close();
      },
    },
    max,
  );
  return {
    backend: 'sqlite',
    acquire: () => pool.acquire(),
    release: (raw, destroy) => pool.release(raw as SqliteDatabase, destroy),
    close: () => pool.close(),
    counts: () => pool.counts(),
    async *stream(raw, sql, values) {
      const statement = (raw as SqliteDatabase).prepare(sql);
      if (!statement.reader) {
        statement.run(...values);
        return;
      }
      yield* statement.iterate(...values);
    },
  };
}
