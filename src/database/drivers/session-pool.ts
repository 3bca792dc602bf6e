import { isReusable, type Session } from '../../core/session.js';
import { createPool } from '../../pool/pool.js';
import type { ConnectionStatus, PoolFactory } from '../../pool/pool-factory.js';
import type { PoolOptions } from '../../pool/pool-options.js';
import type { PoolCounts } from './driver-connector.js';

/** A dbop pool of sessions, one session per pooled connection. */
export interface SessionPool<S extends Session> {
  /** `signal`: stops waiting for a connection when it aborts (see SessionSource.acquire). */
  acquire(signal?: AbortSignal): Promise<S>;
  release(session: S): Promise<void>;
  close(): Promise<void>;
  counts(): PoolCounts;
}

/**
 * A session's state as the pool sees it: what dbop knows (a transaction it began, one the server ended
 * under its owner), else the server's last word (serverIdle), 'unknown' when there is none.
 */
function sessionStatus(session: Session): ConnectionStatus {
  if (session.destroyed || session.busy) return 'broken';
  if (session.inTransaction()) return 'transaction';
  const idle = session.serverIdle?.();
  return idle === undefined ? 'unknown' : idle ? 'idle' : 'transaction';
}

function countsOf(pool: { stats(): { size: number; idle: number; pending: number } }): PoolCounts {
  const { size, idle, pending } = pool.stats();
  return { total: size, idle, waiting: pending };
}

/**
 * dbop's pool over sessions `open` makes (better-sqlite3, PGlite: drivers without a pool): a session given
 * back inside a transaction is rolled back first (and destroyed when that fails), one whose state is
 * unknown is destroyed, never reused.
 */
export function sessionPool<S extends Session>(
  open: () => S | Promise<S>,
  close: (session: S) => void | Promise<void>,
  options: PoolOptions,
): SessionPool<S> {
  const pool = createPool<S>(
    {
      create: async () => open(),
      destroy: close,
      status: (session) => {
        const status = sessionStatus(session);
        return status === 'unknown' ? (isReusable(session) ? 'idle' : 'broken') : status;
      },
    },
    options,
  );
  return {
    acquire: (signal) => pool.acquire(signal === undefined ? undefined : { signal }),
    async release(session) {
      if (!session.destroyed && session.inTransaction())
        await session.rollback().catch((error: unknown) => session.destroy(error));
      if (isReusable(session)) pool.release(session);
      else pool.destroy(session);
    },
    close: () => pool.close(),
    counts: () => countsOf(pool),
  };
}

const released: Promise<void> = Promise.resolve();

/**
 * dbop's pool over the connections of a driver's {@link PoolFactory} (mysql2, mariadb), each lent as the
 * session `wrap` makes of it (once per connection). A session given back inside a transaction (dbop's or
 * one the server reports) is destroyed; one whose state the server's last flags leave unknown is probed
 * (`probeTransaction`, one round trip) and destroyed when a transaction is open.
 */
export function factorySessionPool<C, S extends Session>(
  factory: PoolFactory<C>,
  wrap: (connection: C) => S,
  options: PoolOptions,
): SessionPool<S> {
  const pool = createPool<S>(
    {
      create: async (signal) => wrap(await factory.create(signal)),
      destroy: (session) => factory.destroy(session.raw as C),
      status: (session) =>
        factory.status?.(session.raw as C) === 'broken' ? 'broken' : sessionStatus(session),
      async reset(session) {
        // Without a probe the state stays unknown: destroyed.
        if (session.probeTransaction === undefined || (await session.probeTransaction()))
          throw new Error('the connection is still inside a transaction');
      },
      ...(factory.ping === undefined
        ? {}
        : { ping: (session: S, signal: AbortSignal) => factory.ping!(session.raw as C, signal) }),
      ...(factory.onError === undefined
        ? {}
        : {
            onError: (session: S, listener: (error: unknown) => void) =>
              factory.onError!(session.raw as C, listener),
          }),
    },
    options,
  );
  return {
    acquire: (signal) => pool.acquire(signal === undefined ? undefined : { signal }),
    // Not async (on the path of every unit), but failing the same way: a rejection.
    release(session) {
      try {
        if (isReusable(session)) pool.release(session);
        else pool.destroy(session);
        return released;
      } catch (error) {
        return Promise.reject(error);
      }
    },
    close: () => pool.close(),
    counts: () => countsOf(pool),
  };
}
