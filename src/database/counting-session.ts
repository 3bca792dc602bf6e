import { type Session, wrapStatements } from '../core/session.js';
import { concealSql } from './conceal-sql.js';

/** What {@link interceptStatements} reports about each statement method called on the session. */
export interface StatementHooks {
  /** Before the call, with its arguments. */
  readonly call?: (property: PropertyKey, args: readonly unknown[]) => void;
  /** When the call fails, before the error propagates. */
  readonly error: (error: unknown) => void;
  /** After the call, whichever way it ended. */
  readonly settle?: (property: PropertyKey) => void;
}

/** The same session, with every statement method (transaction control included) reported to `hooks`. */
export function interceptStatements<Raw>(session: Session<Raw>, hooks: StatementHooks): Session<Raw> {
  if (hooks.call === undefined && hooks.settle === undefined) {
    // Errors only (every pooled session's counter): no async frame per statement.
    const failed = (error: unknown): never => {
      hooks.error(error);
      throw error;
    };
    return wrapStatements(session, (_name, call, args) => {
      let result: Promise<unknown>;
      try {
        result = call(...args);
      } catch (error) {
        return Promise.reject(error).catch(failed);
      }
      return result.then(undefined, failed);
    });
  }
  return wrapStatements(session, async (name, call, args) => {
    hooks.call?.(name, args);
    try {
      return await call(...args);
    } catch (error) {
      hooks.error(error);
      throw error;
    } finally {
      hooks.settle?.(name);
    }
  });
}

/**
 * The same session, with every failed statement (transaction control included) passed to `record` before
 * it propagates (FAForever's stat_db_errors, without touching the adapter); the error's interpolated SQL is
 * concealed from printing first.
 */
export function countingSession<Raw>(session: Session<Raw>, record: (error: unknown) => void): Session<Raw> {
  return interceptStatements(session, {
    error(error) {
      concealSql(error);
      record(error);
    },
  });
}
