import type { Session, SessionSource } from '../../core/session.js';
import { type OrmQueryResult, ormConnectionSession } from './orm-connection-session.js';

/** A better-sqlite3 Database, as far as dbop reads it. */
export interface BetterSqliteDatabase {
  prepare(source: string): {
    readonly reader: boolean;
    all(...params: unknown[]): unknown[];
    run(...params: unknown[]): { readonly changes: number };
  };
  pragma(source: string, options: { simple: true }): unknown;
  readonly inTransaction: boolean;
}

const queues = new WeakMap<object, Promise<void>>();

/**
 * Sessions over the one better-sqlite3 connection an ORM holds (Drizzle's `$client`, TypeORM's
 * `databaseConnection`): one transaction at a time, the next waiting for the previous one's release, as
 * statements of two transactions on one connection would mix. `log` shows dbop's statements in the ORM's log.
 */
export function betterSqliteSource<Raw>(
  database: BetterSqliteDatabase,
  log: (sql: string, params: readonly unknown[]) => void,
  raw: () => Raw,
): SessionSource<Raw> {
  const unlocks = new WeakMap<Session<Raw>, () => void>();
  return {
    async acquire() {
      const previous = queues.get(database) ?? Promise.resolve();
      let unlock!: () => void;
      const mine = new Promise<void>((resolve) => {
        unlock = resolve;
      });
      queues.set(
        database,
        previous.then(() => mine),
      );
      await previous;
      try {
        const session = ormConnectionSession({
          dialect: 'sqlite',
          raw: raw(),
          async run(sql, params) {
            log(sql, params);
            return runOn(database, sql, params);
          },
          busyTimeoutMs: busyTimeoutOf(database),
          inTransaction: () => database.inTransaction,
        });
        unlocks.set(session, unlock);
        return session;
      } catch (error) {
        unlock();
        throw error;
      }
    },
    async release(session) {
      unlocks.get(session)?.();
    },
  };
}

/** The connection's own busy timeout (ms), restored after each of dbop's steps. */
export function busyTimeoutOf(database: {
  pragma?(source: string, options: { simple: true }): unknown;
}): number | undefined {
  const value = Number(database.pragma?.('busy_timeout', { simple: true }));
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

function runOn(database: BetterSqliteDatabase, sql: string, params: readonly unknown[]): OrmQueryResult {
  const statement = database.prepare(sql);
  if (statement.reader) {
    const rows = statement.all(...params) as Record<string, unknown>[];
    return { rows, rowCount: rows.length };
  }
  return { rows: [], rowCount: statement.run(...params).changes };
}
