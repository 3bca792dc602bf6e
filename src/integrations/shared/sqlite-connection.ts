import { DbopError } from '../../core/errors.js';
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
 * While a session holds the connection, statements prepared on it by anyone else (the ORM used outside
 * retryTransaction) are refused: they would run inside dbop's transaction, undone with it on a rollback
 * though their caller was told they succeeded. `raw` receives the view of the connection dbop's own
 * statements go through.
 */
export function betterSqliteSource<Raw>(
  database: BetterSqliteDatabase,
  log: (sql: string, params: readonly unknown[]) => void,
  raw: (view: BetterSqliteDatabase) => Raw,
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
        const busyTimeoutMs = busyTimeoutOf(database);
        const { view, letGo } = hold(database);
        const session = ormConnectionSession({
          dialect: 'sqlite',
          raw: raw(view),
          async run(sql, params) {
            log(sql, params);
            return runOn(view, sql, params);
          },
          busyTimeoutMs,
          inTransaction: () => database.inTransaction,
        });
        unlocks.set(session, () => {
          letGo();
          unlock();
        });
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

/**
 * Refuses statements prepared or executed on database by anyone but dbop until letGo() runs; view is what
 * dbop's statements go through (the connection's own methods).
 */
function hold(database: BetterSqliteDatabase): { view: BetterSqliteDatabase; letGo(): void } {
  const target = database as unknown as Record<string, unknown>;
  const methods = ['prepare', 'exec'] as const;
  const own = methods.map((name) => Object.getOwnPropertyDescriptor(database, name));
  const view = Object.create(database) as Record<string, unknown>;
  for (const name of methods) {
    const original = target[name] as (source: string) => unknown;
    view[name] = (source: string) => original.call(database, source);
    Object.defineProperty(database, name, {
      configurable: true,
      value() {
        throw new DbopError(
          'DBOP_TRANSACTION_BOUNDARY',
          "a statement on the SQLite connection outside the transaction dbop runs on it would run inside that transaction (and be undone with it): run it inside retryTransaction's callback, or after it",
        );
      },
    });
  }
  return {
    view: view as unknown as BetterSqliteDatabase,
    letGo() {
      methods.forEach((name, i) => {
        const descriptor = own[i];
        if (descriptor === undefined) delete target[name];
        else Object.defineProperty(database, name, descriptor);
      });
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
