import type { Dsn } from '../../connect/dsn.js';
import { isReusable, type Session } from '../../core/session.js';
import {
  type BetterSqlite3Database,
  betterSqlite3Connect,
} from '../../sessions/better-sqlite3/better-sqlite3-connect.js';
import { LocalPool } from '../local-pool.js';
import type { ConnectorSettings, DriverConnector } from './driver-connector.js';

/**
 * Several better-sqlite3 connections to one file. The driver waits for a lock synchronously, blocking
 * the event loop (and so the very connection that holds the lock, when it is in this process): the busy
 * timeout stays small and dbop's async backoff does the waiting.
 */
export function sqliteConnector(module: unknown, target: Dsn, settings: ConnectorSettings): DriverConnector {
  const path = target.path ?? ':memory:';
  const driver = betterSqlite3Connect(module, {
    path,
    busyTimeoutMs: settings.busyTimeoutMs,
    wal: settings.wal,
  });
  // Each :memory: connection is its own database: one connection is the only coherent pool.
  const pool = new LocalPool<Session<BetterSqlite3Database>>(
    { create: async () => driver.open(), destroy: async (session) => driver.close(session) },
    path === ':memory:' ? 1 : settings.max,
  );
  return {
    backend: () => 'sqlite',
    acquire: () => pool.acquire(),
    async release(session) {
      const own = session as Session<BetterSqlite3Database>;
      if (!own.destroyed && own.inTransaction()) await own.rollback().catch((error) => own.destroy(error));
      await pool.release(own, !isReusable(own));
    },
    close: () => pool.close(),
    counts: () => pool.counts(),
    stream: (session, sql, values) => driver.stream(session, sql, values),
  };
}
