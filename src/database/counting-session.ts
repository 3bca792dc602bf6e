import { type Session, statementMethods } from '../core/session.js';
import { concealSql } from './conceal-sql.js';

/**
 * The same session, with every failed statement (transaction control included) passed to `record` before
 * it propagates (FAForever's stat_db_errors, without touching the adapter); the error's interpolated SQL is
 * concealed from printing first.
 */
export function countingSession<Raw>(session: Session<Raw>, record: (error: unknown) => void): Session<Raw> {
  return new Proxy(session, {
    get(target, property) {
      // The receiver is the real session: its #private fields do not exist on the proxy.
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (!statementMethods.has(property)) return value.bind(target);
      return async (...args: unknown[]): Promise<unknown> => {
        try {
          return await value.apply(target, args);
        } catch (error) {
          concealSql(error);
          record(error);
          throw error;
        }
      };
    },
  });
}
