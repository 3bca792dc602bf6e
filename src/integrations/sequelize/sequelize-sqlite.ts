import type { SessionSource } from '../../core/session.js';
import { type OrmQueryResult, ormConnectionSession } from '../shared/orm-connection-session.js';
import { heldConnectionSource, outsideStatement } from '../shared/sqlite-connection.js';
import type { ConnectionManager } from './sequelize-mysql.js';

type Callback = (this: unknown, error: Error | null, result?: unknown) => void;

/** The node-sqlite3 Database Sequelize's 'sqlite' dialect hands out, as far as dbop reads it. */
export interface NodeSqliteDatabase {
  run(sql: string, params: unknown[], callback: Callback): unknown;
  all(sql: string, params: unknown[], callback: Callback): unknown;
  serialize(callback?: () => void): unknown;
  parallelize(callback?: () => void): unknown;
  configure(option: string, value: unknown): unknown;
  /** False once closed. */
  readonly open?: boolean;
}

// Every method that sends SQL, refused to anyone but dbop while its transaction holds the Database.
const sending = ['run', 'all', 'get', 'each', 'map', 'exec', 'prepare'];
// Native methods the view passes on to the Database itself (called on the view, they would throw).
const native = ['serialize', 'parallelize', 'configure', 'interrupt'] as const;

/**
 * Sessions over the node-sqlite3 Database Sequelize's connection manager keeps for statements outside
 * transactions (one per storage), one transaction at a time. node-sqlite3 shows no transaction state:
 * dbop tracks the BEGIN, COMMIT and ROLLBACK it sends, as SQLite treats them (a BEGIN that failed opened
 * nothing; a COMMIT that failed, SQLITE_BUSY, leaves the transaction open for the ROLLBACK that follows).
 */
export function sequelizeSqliteSource(
  manager: ConnectionManager<NodeSqliteDatabase>,
  log: (sql: string) => void,
): SessionSource {
  return heldConnectionSource(
    () => manager.getConnection({}),
    sending,
    refuse,
    async (view, database) => {
      for (const name of native) {
        const method = (database as unknown as Record<string, (...args: unknown[]) => unknown>)[name];
        if (typeof method === 'function') Object.assign(view, { [name]: method.bind(database) });
      }
      const rows = (await runOn(view, 'SELECT timeout FROM pragma_busy_timeout', [])).rows;
      let open = false;
      return ormConnectionSession({
        dialect: 'sqlite',
        raw: view,
        async run(sql, params) {
          log(sql);
          const begins = /^\s*BEGIN\b/i.test(sql);
          const rollsBack = /^\s*ROLLBACK(?!\s+(?:TRANSACTION\s+)?TO\b)/i.test(sql);
          try {
            const result = await runOn(view, sql, params);
            if (begins) open = true;
            else if (rollsBack || /^\s*(?:COMMIT|END)\b/i.test(sql)) open = false;
            return result;
          } catch (error) {
            if (begins || rollsBack) open = false;
            throw error;
          }
        },
        busyTimeoutMs: Number(rows[0]?.timeout ?? 0),
        inTransaction: () => open,
        // SQLite may have rolled the whole transaction back on its own after a failed statement (ON CONFLICT
        // ROLLBACK, RAISE(ROLLBACK), some I/O errors): asked at once, so nothing after it runs in autocommit.
        async afterFailure() {
          if (open && !(await stillInTransaction(view))) open = false;
        },
        isBroken: () => database.open === false,
      });
    },
  );
}

/**
 * Whether the Database is still inside a transaction, which node-sqlite3 cannot tell: a BEGIN is refused
 * inside one ("cannot start a transaction within a transaction"); outside, the BEGIN it opened is rolled back.
 */
async function stillInTransaction(database: NodeSqliteDatabase): Promise<boolean> {
  try {
    await runOn(database, 'BEGIN', []);
  } catch {
    return true;
  }
  await runOn(database, 'ROLLBACK', []).catch(() => {});
  return false;
}

/** A statement of someone else's while dbop holds the Database: its callback gets the refusal. */
function refuse(args: unknown[]): unknown {
  const callback = args.findLast((arg) => typeof arg === 'function') as Callback | undefined;
  if (callback === undefined) throw outsideStatement();
  process.nextTick(() => callback.call(undefined, outsideStatement()));
  return undefined;
}

function runOn(
  database: NodeSqliteDatabase,
  sql: string,
  params: readonly unknown[],
): Promise<OrmQueryResult> {
  const reads = /^\s*(?:SELECT|PRAGMA|WITH|VALUES|EXPLAIN)\b/i.test(sql);
  return new Promise((resolve, reject) => {
    const done: Callback = function (this: unknown, error, result) {
      if (error) reject(error);
      else if (reads) {
        const rows = result as Record<string, unknown>[];
        resolve({ rows, rowCount: rows.length });
      } else resolve({ rows: [], rowCount: Number((this as { changes?: number }).changes ?? 0) });
    };
    if (reads) database.all(sql, [...params], done);
    else database.run(sql, [...params], done);
  });
}
