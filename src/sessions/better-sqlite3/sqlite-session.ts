import type { Session } from '../../core/session.js';
import { expectOptions } from '../../core/validate.js';
import { sqliteSql } from '../../dialects/sqlite/sqlite-sql.js';
import { DriverSession } from '../shared/driver-session.js';
import type { SqliteDatabaseLike, SqliteStatementLike } from './better-sqlite3-types.js';

/** Options of {@link sqliteSession}. */
export interface SqliteSessionOptions {
  /**
   * The longest synchronous busy wait a step may ask for (default 20 ms). better-sqlite3 blocks the event
   * loop while it waits, so a longer lock wait is left to dbop's async backoff between attempts.
   */
  readonly maxBusyTimeoutMs?: number;
}

const knownKeys: ReadonlySet<string> = new Set(['maxBusyTimeoutMs']);
// Prepared statements kept per connection, the least recently prepared dropped first.
const preparedKept = 100;

/**
 * A dbop Session over a better-sqlite3 Database. Queries run synchronously; the session is async only to
 * share the Session shape. The connection's busy timeout at creation is the one restored after each step.
 * @example
 * const session = sqliteSession(new Database('app.db'));
 */
export function sqliteSession<Database extends SqliteDatabaseLike>(
  db: Database,
  options: SqliteSessionOptions = {},
): Session<Database> {
  expectOptions(options, knownKeys, 'sqliteSession()');
  const baseBusyTimeoutMs = Number(db.pragma('busy_timeout', { simple: true }));
  const sql = sqliteSql({
    baseBusyTimeoutMs,
    baseQueryOnly: Number(db.pragma('query_only', { simple: true })) === 1,
    ...(options.maxBusyTimeoutMs === undefined ? {} : { maxBusyTimeoutMs: options.maxBusyTimeoutMs }),
  });
  let closed = false;
  // Preparing parses the SQL each time, a large part of a statement's cost on SQLite: the recent ones are
  // kept, as code written by hand keeps its prepared statements.
  const prepared = new Map<string, SqliteStatementLike>();
  const prepare = (text: string): SqliteStatementLike => {
    let statement = prepared.get(text);
    if (statement === undefined) {
      statement = db.prepare(text);
      if (prepared.size >= preparedKept) prepared.delete(prepared.keys().next().value!);
      prepared.set(text, statement);
    }
    return statement;
  };
  return new DriverSession<Database>({
    dialect: 'sqlite',
    sql,
    raw: db,
    async query(text, params) {
      const statement = prepare(text);
      const values = params === undefined ? [] : [...params];
      if (statement.reader) {
        const rows = statement.all(...values) as Record<string, unknown>[];
        return { rows, rowCount: rows.length };
      }
      return { rows: [], rowCount: statement.run(...values).changes };
    },
    async batch(statements) {
      db.exec(statements.join(';\n'));
      return [];
    },
    inTransaction: () => db.inTransaction,
    isBroken: () => closed,
    // The database belongs to the caller and nothing can be left running in it (queries are synchronous):
    // the session only stops using it.
    destroy() {
      closed = true;
    },
  });
}
