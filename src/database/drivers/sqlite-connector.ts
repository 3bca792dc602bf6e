import type { Session } from '../../core/session.js';
import type { SqliteDatabaseLike } from '../../sessions/better-sqlite3/better-sqlite3-types.js';
import { sqliteSession } from '../../sessions/better-sqlite3/sqlite-session.js';
import type { DatabaseTarget } from '../database-url.js';
import { LocalPool } from '../local-pool.js';
import type { ConnectorSettings, DriverConnector } from './driver-connector.js';

/** The subset of a better-sqlite3 Database we use beyond the session's. */
interface SqliteDatabase extends SqliteDatabaseLike {
  prepare(sql: string): ReturnType<SqliteDatabaseLike['prepare']> & {
    iterate(...values: unknown[]): Iterable<Record<string, unknown>>;
  };
  close(): void;
}

type SqliteConstructor = new (path: string, options: { timeout: number }) => SqliteDatabase;

/**
 * Several better-sqlite3 connections to one file. The driver waits for a lock synchronously, blocking
 * the event loop (and so the very connection that holds the lock, when it is in this process): the busy
 * timeout stays small and dbop's async backoff does the waiting.
 */
export function sqliteConnector(
  module: unknown,
  target: DatabaseTarget,
  settings: ConnectorSettings,
): DriverConnector {
  const Sqlite = ((module as { default?: SqliteConstructor }).default ?? module) as SqliteConstructor;
  const path = target.path ?? ':memory:';
  // Each :memory: connection is its own database: one connection is the only coherent pool.
  const max = path === ':memory:' ? 1 : settings.max;
  const sessions = new WeakMap<SqliteDatabase, Session>();
  const pool = new LocalPool<SqliteDatabase>(
    {
      async create() {
        const db = new Sqlite(path, { timeout: settings.busyTimeoutMs });
        if (settings.wal && path !== ':memory:') db.pragma('journal_mode = WAL');
        sessions.set(db, sqliteSession(db, { maxBusyTimeoutMs: settings.busyTimeoutMs }));
        return db;
      },
      async destroy(db) {
        db.close();
      },
    },
    max,
  );
  return {
    backend: () => 'sqlite',
    async acquire() {
      const db = await pool.acquire();
      return sessions.get(db)!;
    },
    async release(session) {
      const db = session.raw as SqliteDatabase;
      if (!session.destroyed && session.inTransaction()) db.exec('ROLLBACK');
      await pool.release(db, session.destroyed);
    },
    close: () => pool.close(),
    counts: () => pool.counts(),
    async *stream(session, sql, values) {
      const statement = (session.raw as SqliteDatabase).prepare(sql);
      if (!statement.reader) {
        statement.run(...values);
        return;
      }
      yield* statement.iterate(...values);
    },
  };
}
