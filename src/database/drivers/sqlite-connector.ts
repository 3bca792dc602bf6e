import type { Dsn } from '../../connect/dsn.js';
import { betterSqlite3Connect } from '../../sessions/better-sqlite3/better-sqlite3-connect.js';
import { insideTransactionOf } from '../../sessions/better-sqlite3/writer-gate.js';
import type { ConnectorSettings, DriverConnector } from './driver-connector.js';
import { sessionPool } from './session-pool.js';

/**
 * Several better-sqlite3 connections to one file. The driver waits for a lock synchronously, blocking
 * the event loop (and so the very connection that holds the lock, when it is in this process): the busy
 * timeout stays small, and BEGIN IMMEDIATE waits for the lock asynchronously instead (lockWaitMs).
 */
export function sqliteConnector(module: unknown, target: Dsn, settings: ConnectorSettings): DriverConnector {
  const path = target.path ?? ':memory:';
  const driver = betterSqlite3Connect(module, {
    path,
    busyTimeoutMs: settings.busyTimeoutMs,
    lockWaitMs: settings.lockWaitMs,
    wal: settings.wal,
  });
  // Each :memory: connection is its own database: one connection is the only coherent pool.
  const pool = sessionPool(
    () => driver.open(),
    (session) => driver.close(session),
    {
      name: settings.name,
      max: path === ':memory:' ? 1 : settings.max,
      connectTimeoutMs: settings.connectTimeoutMs,
      ...settings.pool,
      // One connection is the whole of a :memory: database: keep minIdle within it.
      ...(path === ':memory:' ? { minIdle: Math.min(1, settings.pool.minIdle ?? 0) } : {}),
    },
  );
  return {
    backend: () => 'sqlite',
    acquire: (signal) => pool.acquire(signal),
    release: (session) => pool.release(session as Awaited<ReturnType<typeof driver.open>>),
    close: () => pool.close(),
    counts: () => pool.counts(),
    stream: (session, sql, values) => driver.stream(session, sql, values),
    // A write nested in a unit's body then fails at once rather than wait for the unit's own write lock.
    enclose: (session, fn) => insideTransactionOf(session.raw as object, fn),
  };
}
