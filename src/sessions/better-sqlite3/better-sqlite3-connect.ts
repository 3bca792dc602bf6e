import type { Session } from '../../core/session.js';
import type { SqliteDatabaseLike } from './better-sqlite3-types.js';
import { sqliteSession } from './sqlite-session.js';

/** How {@link betterSqlite3Connect} opens connections to one database. */
export interface BetterSqlite3ConnectOptions {
  /** A file path or ':memory:'. */
  readonly path: string;
  /** The connections' own busy timeout, ms (better-sqlite3 blocks the event loop while it waits). */
  readonly busyTimeoutMs: number;
  /** How long BEGIN IMMEDIATE waits for the write lock without blocking, ms (see SqliteSessionOptions). */
  readonly lockWaitMs: number;
  /** Switch a file database to WAL, so readers and one writer work side by side. */
  readonly wal: boolean;
}

/** A better-sqlite3 Database as a session's raw handle. */
export interface BetterSqlite3Database extends SqliteDatabaseLike {
  prepare(sql: string): ReturnType<SqliteDatabaseLike['prepare']> & {
    iterate(...values: unknown[]): Iterable<Record<string, unknown>>;
  };
  close(): void;
}

/** Opens and closes connections to one SQLite database; pooling them is the caller's job. */
export interface BetterSqlite3Connection {
  /** A new connection with its session. */
  open(): Session<BetterSqlite3Database>;
  /** Closes the session's connection (SQLite rolls back a transaction left open). */
  close(session: Session<BetterSqlite3Database>): void;
  /** Rows one at a time from the driver's own iterator; a statement that returns none just runs. */
  stream(session: Session, sql: string, values: readonly unknown[]): AsyncIterable<Record<string, unknown>>;
}

type SqliteConstructor = new (path: string, options: { timeout: number }) => BetterSqlite3Database;

/** Imports better-sqlite3 on first use, so importing dbop never loads it. */
export function importBetterSqlite3(): Promise<unknown> {
  return import('better-sqlite3');
}

/** Connections to one SQLite database; `module` is what {@link importBetterSqlite3} resolved to. */
export function betterSqlite3Connect(
  module: unknown,
  options: BetterSqlite3ConnectOptions,
): BetterSqlite3Connection {
  const Sqlite = ((module as { default?: SqliteConstructor }).default ?? module) as SqliteConstructor;
  return {
    open() {
      const db = new Sqlite(options.path, { timeout: options.busyTimeoutMs });
      try {
        if (options.wal && options.path !== ':memory:') db.pragma('journal_mode = WAL');
        return sqliteSession(db, {
          maxBusyTimeoutMs: options.busyTimeoutMs,
          lockWaitMs: options.lockWaitMs,
        });
      } catch (error) {
        db.close();
        throw error;
      }
    },
    close(session) {
      session.raw.close();
    },
    async *stream(session, sql, values) {
      const statement = (session.raw as BetterSqlite3Database).prepare(sql);
      if (!statement.reader) {
        statement.run(...values);
        return;
      }
      yield* statement.iterate(...values);
    },
  };
}
