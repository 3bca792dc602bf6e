import type { Session } from '../../core/session.js';
import { postgresSql } from '../../dialects/postgres/postgres-sql.js';
import { DriverSession } from '../shared/driver-session.js';
import type { PgliteLike } from './pglite-types.js';

/**
 * A dbop Session over a PGlite database. PGlite runs in-process and serialises queries, so a timed-out
 * step's cleanup simply waits its turn; there is no connection to lose or cancel.
 * @example
 * const session = pgliteSession(await PGlite.create());
 */
export function pgliteSession<Db extends PgliteLike>(db: Db): Session<Db> {
  let stopped = false;
  let lastCommand: string | undefined;
  return new DriverSession<Db>({
    dialect: 'postgres',
    sql: postgresSql(),
    raw: db,
    async query(text, params) {
      const result = await db.query(text, params === undefined ? undefined : [...params]);
      const rows = result.rows as Record<string, unknown>[];
      // PGlite reports affectedRows 0 for a SELECT: rows returned count as the row count.
      return { rows, rowCount: rows.length > 0 ? rows.length : (result.affectedRows ?? 0) };
    },
    async batch(statements) {
      const results = await db.exec(statements.join(';\n'));
      lastCommand = results[results.length - 1]?.command;
      return (results[results.length - 1]?.rows ?? []) as Record<string, unknown>[];
    },
    lastCommand: () => lastCommand,
    inTransaction: () => db.isInTransaction?.(),
    isBroken: () => stopped,
    // The database is the caller's: the session only stops using it.
    destroy() {
      stopped = true;
    },
  });
}
