import { is } from 'drizzle-orm';
import { BetterSQLiteSession, BetterSQLiteTransaction } from 'drizzle-orm/better-sqlite3/session';
import type { AttemptContext } from '../../core/attempt.js';
import { DbopError } from '../../core/errors.js';
import type { Session, SessionSource } from '../../core/session.js';
import { checkStatement } from '../shared/handle-steps.js';
import { type BetterSqliteDatabase, betterSqliteSource } from '../shared/sqlite-connection.js';

/** The parts of a better-sqlite3 Drizzle database dbop reads (Drizzle's session, dialect and Database). */
export interface BetterSqliteDrizzle {
  readonly $client: BetterSqliteDatabase;
  readonly dialect: unknown;
  readonly session: {
    readonly schema: unknown;
    readonly logger: { logQuery(query: string, params: unknown[]): void };
    readonly cache?: unknown;
  };
}

/** True for a Drizzle database over better-sqlite3 (`drizzle({ client: new Database(file) })`). */
export function isBetterSqliteDrizzle(db: object): db is BetterSqliteDrizzle {
  return is((db as { session?: unknown }).session, BetterSQLiteSession);
}

/** Sessions over the database's one better-sqlite3 connection, one transaction at a time. */
export function betterSqliteDrizzleSource(db: BetterSqliteDrizzle): SessionSource {
  const database = db.$client;
  return betterSqliteSource(
    database,
    (sql, params) => db.session.logger.logQuery(sql, [...params]),
    (view) => view,
  );
}

/**
 * Drizzle's own BetterSQLiteTransaction over the session's connection, guarded: statements that would end
 * dbop's transaction, and anything an abandoned attempt still sends, are refused when Drizzle prepares them.
 */
export function betterSqliteTransaction(
  db: BetterSqliteDrizzle,
  session: Session,
  attempt: AttemptContext,
): object {
  const database = session.raw as BetterSqliteDatabase;
  const guarded = Object.create(database, {
    prepare: {
      value(source: string) {
        checkStatement(source, session, attempt);
        // SQLite rolls the whole transaction back on its own after some failures (ON CONFLICT ROLLBACK,
        // RAISE(ROLLBACK)); a callback that swallowed that error would send the rest in autocommit.
        if (!database.inTransaction)
          throw new DbopError(
            'DBOP_TRANSACTION_ABORTED',
            "SQLite ended dbop's transaction on its own after a failed statement (e.g. ON CONFLICT ROLLBACK): this statement would run outside it, in autocommit, and is refused",
          );
        return database.prepare(source);
      },
    },
  }) as BetterSqliteDatabase;
  const drizzleSession = new BetterSQLiteSession(
    guarded as never,
    db.dialect as never,
    db.session.schema as never,
    { logger: db.session.logger, cache: db.session.cache } as never,
  );
  return new BetterSQLiteTransaction('sync', db.dialect as never, drizzleSession, db.session.schema as never);
}
