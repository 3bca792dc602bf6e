import type { Session, SessionSource } from '../../core/session.js';
import { pgSession } from './pg-session.js';
import type { PgClientLike, PgPoolLike } from './pg-types.js';

type PooledClient = PgClientLike & { release(destroy?: boolean | Error): void };

/**
 * A SessionSource over a pg Pool: a fresh PoolClient per acquire, the pool as sidecar (cancel, commit
 * verification), and a destroyed session's client removed from the pool rather than reused.
 */
export function pgPoolSource(pool: PgPoolLike): SessionSource<PooledClient> {
  return {
    async acquire(): Promise<Session<PooledClient>> {
      return pgSession(await pool.connect(), { sidecar: pool });
    },
    async release(session: Session<PooledClient>): Promise<void> {
      session.raw.release(session.destroyed || session.inTransaction());
    },
  };
}
