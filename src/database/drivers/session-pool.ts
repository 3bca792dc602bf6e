import { isReusable, type Session } from '../../core/session.js';
import { createPool } from '../../pool/pool.js';
import type { PoolOptions } from '../../pool/pool-options.js';
import type { PoolCounts } from './driver-connector.js';

/** A dbop pool of sessions for drivers that have no pool of their own (better-sqlite3, PGlite). */
export interface SessionPool<S extends Session> {
  acquire(): Promise<S>;
  release(session: S): Promise<void>;
  close(): Promise<void>;
  counts(): PoolCounts;
}

/**
 * dbop's pool over sessions `open` makes: a session given back inside a transaction is rolled back first
 * (and destroyed when that fails), one whose state is unknown is destroyed, never reused.
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
      status: (session) =>
        session.destroyed
          ? 'broken'
          : session.inTransaction()
            ? 'transaction'
            : isReusable(session)
              ? 'idle'
              : 'broken',
    },
    options,
  );
  return {
    acquire: () => pool.acquire(),
    async release(session) {
      if (!session.destroyed && session.inTransaction())
        await session.rollback().catch((error: unknown) => session.destroy(error));
      if (isReusable(session)) pool.release(session);
      else pool.destroy(session);
    },
    close: () => pool.close(),
    counts() {
      const { size, idle, pending } = pool.stats();
      return { total: size, idle, waiting: pending };
    },
  };
}
