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
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

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
  const source = pgPoolSource(pool);
  return {
    acquire: (): Promise<Session<PgPooledClient>> => source.acquire(),
    release: (session) => source.release(session),
    close: () => pool.end(),
    counts: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
  };
}
