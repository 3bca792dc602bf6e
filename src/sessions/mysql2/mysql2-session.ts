import type { Session } from '../../core/session.js';
import { mariadbSql } from '../../dialects/mariadb/mariadb-sql.js';
import { mysqlSql } from '../../dialects/mysql/mysql-sql.js';
import { DriverSession } from '../shared/driver-session.js';
import { checkThreadId, endsMysqlTransaction } from '../shared/mysql-family.js';
import type { Mysql2ConnectionLike, Mysql2Queryable } from './mysql2-types.js';

/** Options of {@link mysql2Session}. */
export interface Mysql2SessionOptions {
  /** Which server the connection talks to: the SQL and error numbers differ (default 'mysql'). */
  readonly flavor?: 'mysql' | 'mariadb';
  /** A second way to reach the server (usually the pool): it sends KILL QUERY for a timed-out statement. */
  readonly sidecar?: Mysql2Queryable;
}

const knownKeys = new Set(['flavor', 'sidecar']);
const watched: WeakSet<object> = new WeakSet();

/**
 * A dbop Session over a mysql2/promise Connection or PoolConnection.
 * @example
 * const session = mysql2Session(await pool.getConnection(), { flavor: 'mariadb', sidecar: pool });
 */
export function mysql2Session<Connection extends Mysql2ConnectionLike>(
  connection: Connection,
  options: Mysql2SessionOptions = {},
): Session<Connection> {
  for (const key of Object.keys(options)) {
    if (!knownKeys.has(key)) throw new TypeError(`Unknown mysql2Session option \`${key}\``);
  }
  const flavor = options.flavor ?? 'mysql';
  if (flavor !== 'mysql' && flavor !== 'mariadb') {
    throw new TypeError(`Expected \`flavor\` to be 'mysql' or 'mariadb', got ${String(flavor)}`);
  }
  const sidecar = options.sidecar;
  let broken = false;
  // A connection killed while checked out emits 'error'; unhandled, it would crash the process.
  if (typeof connection.on === 'function' && !watched.has(connection)) {
    watched.add(connection);
    connection.on('error', () => {
      broken = true;
    });
  }
  const multi = connection.connection?.config?.multipleStatements === true;
  return new DriverSession<Connection>({
    dialect: flavor,
    sql: flavor === 'mariadb' ? mariadbSql() : mysqlSql(),
    raw: connection,
    async query(sql, params) {
      const [result] = await connection.query(sql, params === undefined ? undefined : [...params]);
      if (Array.isArray(result))
        return { rows: result as Record<string, unknown>[], rowCount: result.length };
      return { rows: [], rowCount: Number((result as { affectedRows?: number }).affectedRows ?? 0) };
    },
    async batch(statements) {
      if (multi) {
        const [result] = await connection.query(statements.join(';\n'));
        const last = Array.isArray(result) && statements.length > 1 ? result[result.length - 1] : result;
        return Array.isArray(last) ? (last as Record<string, unknown>[]) : [];
      }
      let rows: unknown = [];
      for (const statement of statements) [rows] = await connection.query(statement);
      return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
    },
    // mysql2 keeps no copy of the server status: DO 0 returns an OK packet whose status flags say
    // whether a transaction is open (SERVER_STATUS_IN_TRANS), also one begun with the driver itself.
    async probeTransaction() {
      const [header] = await connection.query('DO 0');
      const status = (header as { serverStatus?: unknown } | null)?.serverStatus;
      if (typeof status !== 'number') throw new TypeError('mysql2 returned no server status for DO 0');
      return (status & 1) === 1;
    },
    endsTransaction: endsMysqlTransaction,
    isBroken: () =>
      broken || connection.connection?._closing === true || Boolean(connection.connection?._fatalError),
    ...(sidecar === undefined
      ? {}
      : {
          async cancel() {
            const threadId = checkThreadId(connection.threadId);
            if (threadId !== undefined) await sidecar.query(`KILL QUERY ${threadId}`);
          },
        }),
    destroy() {
      broken = true;
      connection.destroy?.();
    },
  });
}
