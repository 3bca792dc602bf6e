import { isReusable, type Session, type SessionSource } from '../../core/session.js';
import { pgSession } from './pg-session.js';
import type { PgPoolClientOf, PgPooledClientLike, PgPoolLike } from './pg-types.js';

/**
 * A SessionSource over a pg Pool: a fresh PoolClient per acquire, the pool as sidecar (cancel, commit
 * verification), and a client the server did not report idle (destroyed, busy, in a transaction) removed
 * rather than reused. Generic over the pool's client type, so steps see `Session<pg.PoolClient>`.
 * @example await runner.transaction(pgPoolSource(pool), async (session) => session.query('SELECT 1'));
 */
export function pgPoolSource<Pool extends PgPoolLike<PgPooledClientLike>>(
  pool: Pool,
): SessionSource<PgPoolClientOf<Pool>> {
  type Client = PgPoolClientOf<Pool>;
  return {
    async acquire(): Promise<Session<Client>> {
      return pgSession((await pool.connect()) as Client, { sidecar: pool });
    },
    async release(session: Session<Client>): Promise<void> {
      // Back to the pool only when the server said the connection is idle; anything else is destroyed.
      session.raw.release(!isReusable(session));
    },
  };
}
