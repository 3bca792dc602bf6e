import { isReusable, type Session, type SessionSource } from '../../core/session.js';
import { type PgClientClass, pgOneShot } from './pg-one-shot.js';
import { pgSession } from './pg-session.js';
import type { PgPoolClientOf, PgPooledClientLike, PgPoolLike, PgQueryable } from './pg-types.js';

/**
 * A SessionSource over a pg Pool: a PoolClient per acquire, as one session made on its first checkout and
 * kept for the client's life (a session per checkout, held by callers' WeakMaps, survived the young
 * generation and was promoted: GC then cost more than the statements), a sidecar for cancel and commit
 * verification (a short-lived Client with the pool's own settings, so a full pool cannot hold it up; the
 * pool itself when it exposes neither), and a client the server did not report idle (destroyed, busy, in a transaction) removed
 * rather than reused. Generic over the pool's client type, so steps see `Session<pg.PoolClient>`.
 * @example await runner.transaction(pgPoolSource(pool), async (session) => session.query('SELECT 1'));
 */
export function pgPoolSource<Pool extends PgPoolLike<PgPooledClientLike>>(
  pool: Pool,
): SessionSource<PgPoolClientOf<Pool>> {
  // pg's connect() takes no signal (its one argument is a callback): a caller that gives up waits anyway.
  return pgPoolSourceWith(pool, () => pool.connect() as Promise<PgPoolClientOf<Pool>>);
}

/**
 * {@link pgPoolSource} over a pool whose checkout honours the attempt's signal (dbop's own pool, shaped
 * like pg's): `connect` takes it, so a caller that gives up leaves the pool's queue at once.
 */
export function pgPoolSourceWith<Pool extends PgPoolLike<PgPooledClientLike>>(
  pool: Pool,
  connect: (signal: AbortSignal | undefined) => Promise<PgPoolClientOf<Pool>>,
): SessionSource<PgPoolClientOf<Pool>> {
  type Client = PgPoolClientOf<Pool>;
  const sidecar = sidecarOf(pool);
  // A client comes back here only when idle (no transaction, nothing in flight), so its session is fit to
  // hand out again; a destroyed one is never handed out by the pool.
  const sessions = new WeakMap<object, Session<Client>>();
  const sessionOf = (client: Client): Session<Client> => {
    let session = sessions.get(client);
    if (session === undefined) {
      session = pgSession(client, { sidecar });
      sessions.set(client, session);
    }
    return session;
  };
  // Not async functions (each is on the path of every unit), but failing the same way: a rejection.
  return {
    acquire(signal?: AbortSignal): Promise<Session<Client>> {
      try {
        return Promise.resolve(connect(signal)).then(sessionOf);
      } catch (error) {
        return Promise.reject(error);
      }
    },
    release(session: Session<Client>): Promise<void> {
      try {
        // Back to the pool only when the server said the connection is idle; anything else is destroyed.
        session.raw.release(!isReusable(session));
        return released;
      } catch (error) {
        return Promise.reject(error);
      }
    },
  };
}

const released: Promise<void> = Promise.resolve();

/** node-postgres's Pool keeps its Client class and settings (`Client`, `options`): it opens clients with them. */
function sidecarOf(pool: PgQueryable): PgQueryable {
  const { Client, options } = pool as { Client?: unknown; options?: unknown };
  return typeof Client === 'function' && typeof options === 'object' && options !== null
    ? pgOneShot(Client as PgClientClass, options as Record<string, unknown>)
    : pool;
}
