import type { Session, SessionSource } from '../../core/session.js';
import { pgPoolSource } from './pg-pool-source.js';
import type { PgClientLike, PgPoolLike } from './pg-types.js';

/** How {@link pgConnect} opens node-postgres's Pool. */
export interface PgConnectOptions {
  /**
   * Connection settings (host, port, user, password, database, ssl...), never a connection string: pg would
   * parse it again. Holds the password: never print it.
   */
  readonly config: Readonly<Record<string, unknown>>;
  readonly max: number;
}

/** A pooled pg client as a session's raw handle. */
export type PgPooledClient = PgClientLike & { release(destroy?: boolean | Error): void };

/** Sessions over one pg Pool, with its counts. */
export interface PgConnection extends SessionSource<PgPooledClient> {
  close(): Promise<void>;
  counts(): { readonly total: number; readonly idle: number; readonly waiting: number };
}

/** The subset of pg's module and Pool we use. */
interface PgModule {
  readonly Pool: new (config: Record<string, unknown>) => PgPool;
}

interface PgPool extends PgPoolLike {
  end(): Promise<void>;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  on(event: 'connect', listener: (client: PgClientLike) => void): unknown;
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

function ignore(): void {}

/** Imports pg on first use, so importing dbop never loads it. */
export function importPg(): Promise<unknown> {
  return import('pg');
}

/** Sessions over pg's own Pool (until dbop's pool lands); `module` is what {@link importPg} resolved to. */
export function pgConnect(module: unknown, options: PgConnectOptions): PgConnection {
  const pg = ((module as { default?: PgModule }).default ?? module) as PgModule;
  const pool = new pg.Pool({ ...options.config, max: options.max });
  // An idle client killed by the server must not crash the process; the next acquire gets a fresh one.
  pool.on('error', () => {});
  // pg-pool takes its own 'error' listener off a client as it hands it out, and the session adds one only
  // once the caller resumes: a backend killed just as the connection came up can send its FATAL in the same
  // socket read as the handshake's ReadyForQuery, in between, with no listener (issue 9). A client the pool
  // opens keeps a no-op one for its whole life; its state (_queryable, _ending) still says it is dead.
  pool.on('connect', (client) => {
    client.on?.('error', ignore);
  });
  const source = pgPoolSource(pool);
  return {
    acquire: (): Promise<Session<PgPooledClient>> => source.acquire(),
    release: (session) => source.release(session),
    close: () => pool.end(),
    counts: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
  };
}
