import type { Session } from '../../core/session.js';
import { pgliteSession } from './pglite-session.js';
import type { PgliteLike } from './pglite-types.js';

/** A PGlite instance as a session's raw handle. */
export interface PgliteInstance extends PgliteLike {
  close(): Promise<void>;
  readonly waitReady: Promise<void>;
}

/** One embedded PGlite database: it has a single connection, so the caller hands out one session at a time. */
export interface PgliteConnection {
  /** A fresh session over the instance, once it is ready. */
  open(): Promise<Session<PgliteInstance>>;
  /** Closes the instance. */
  close(): Promise<void>;
}

type PgliteConstructor = new (dataDir?: string) => PgliteInstance;

/** Imports PGlite on first use, so importing dbop never loads it. */
export function importPglite(): Promise<unknown> {
  return import('@electric-sql/pglite');
}

/**
 * Opens a PGlite database in `path` (a directory) or in memory ('memory'); `module` is what
 * {@link importPglite} resolved to.
 */
export function pgliteConnect(module: unknown, path: string): PgliteConnection {
  const PGlite = (module as { PGlite: PgliteConstructor }).PGlite;
  const instance = path === 'memory' ? new PGlite() : new PGlite(path);
  return {
    async open() {
      await instance.waitReady;
      // A destroyed session left the instance rolled back or unusable; a fresh session tracks it anew.
      return pgliteSession(instance);
    },
    close: () => instance.close(),
  };
}
