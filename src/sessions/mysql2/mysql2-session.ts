import type { QueryResult, Session } from '../../core/session.js';
import { DriverSession } from '../shared/driver-session.js';
import {
  checkThreadId,
  endsMysqlTransaction,
  markerChecks,
  mysql2StatusAfter,
  resolveMysqlFamilyOptions,
  statusWithoutFlags,
  watchConnectionErrors,
} from '../shared/mysql-family.js';
import type { Mysql2ConnectionLike, Mysql2Queryable } from './mysql2-types.js';

/** Options of {@link mysql2Session}. */
export interface Mysql2SessionOptions {
  /**
   * Which server the connection talks to: the SQL and error numbers differ. Default: what the server said
   * in its handshake (a version with "MariaDB" in it), else 'mysql'.
   */
  readonly flavor?: 'mysql' | 'mariadb';
  /** A second way to reach the server (usually the pool): it sends KILL QUERY for a timed-out statement. */
  /**
   * Verify a COMMIT whose connection was lost (default false): each write transaction inserts a row with a
   * random id into dbop_commit_marker (created on first use) with its COMMIT, looked up through the sidecar.
   * Costs one INSERT per write transaction (a round trip unless the driver pipelines).
   */
  readonly verifyCommits?: boolean;
  readonly sidecar?: Mysql2Queryable;
}

/**
 * A dbop Session over a mysql2/promise Connection or PoolConnection.
 * @example
 * const session = mysql2Session(await pool.getConnection(), { sidecar: pool });
 */
export function mysql2Session<Connection extends Mysql2ConnectionLike>(
  connection: Connection,
  options?: Mysql2SessionOptions,
): Session<Connection> {
  return buildSession(connection, options, false);
}

/**
 * mysql2Session over a connection of dbop's own pool, which only dbop drives: the status flags of the last
 * OK packet (COMMIT's, ROLLBACK's, an UPDATE's) are the connection's state until the next statement, so a
 * transaction begun after them needs no `DO 0` probe. Unknown after a result set or an error: then it probes.
 */
export function ownedMysql2Session<Connection extends Mysql2ConnectionLike>(
  connection: Connection,
  options?: Mysql2SessionOptions,
): Session<Connection> {
  return buildSession(connection, options, true);
}

function buildSession<Connection extends Mysql2ConnectionLike>(
  connection: Connection,
  options: Mysql2SessionOptions | undefined,
  exclusive: boolean,
): Session<Connection> {
  const { flavor, sql, sidecar, verifyCommits } = resolveMysqlFamilyOptions(options, 'mysql2Session', () =>
    handshakeFlavor(connection),
  );
  let broken = false;
  // On the core connection: mysql2/promise hands out a new wrapper per pool checkout, and a listener kept
  // per wrapper piled up one more on the same connection each time (MaxListenersExceededWarning at 11).
  watchConnectionErrors(
    (connection.connection ?? connection) as Parameters<typeof watchConnectionErrors>[0],
    () => {
      broken = true;
    },
  );
  const multi = connection.connection?.config?.multipleStatements === true;
  // The status flags of the last OK packet, the only place mysql2 shows them, carried over a result set
  // or an error while autocommit is on (statusWithoutFlags); unknown otherwise.
  // A connection only dbop drives starts from the handshake's flags.
  const handshake = connection.connection?._handshakePacket?.statusFlags;
  let lastStatus: number | undefined = exclusive && typeof handshake === 'number' ? handshake : undefined;
  // Not async functions (every statement's path): one derived promise each, failing the same way.
  const sent = ([result]: [unknown, unknown]): unknown => {
    lastStatus = mysql2StatusAfter(lastStatus, result, multi);
    return result;
  };
  const failed = (error: unknown): never => {
    lastStatus = statusWithoutFlags(lastStatus, true, multi);
    throw error;
  };
  const send = (sql: string, params?: unknown[]): Promise<unknown> => {
    let pending: Promise<[unknown, unknown]>;
    try {
      pending = connection.query(sql, params) as Promise<[unknown, unknown]>;
    } catch (error) {
      pending = Promise.reject(error);
    }
    return pending.then(sent, failed);
  };
  return new DriverSession<Connection>({
    dialect: flavor,
    sql,
    raw: connection,
    query: (sql, params) => send(sql, params === undefined ? undefined : [...params]).then(queryResult),
    async batch(statements) {
      if (multi) {
        const result = await send(statements.join(';\n'));
        const last = Array.isArray(result) && statements.length > 1 ? result[result.length - 1] : result;
        return Array.isArray(last) ? (last as Record<string, unknown>[]) : [];
      }
      let rows: unknown = [];
      for (const statement of statements) rows = await send(statement);
      return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
    },
    // mysql2 keeps no copy of the server status: DO 0 returns an OK packet whose status flags say
    // whether a transaction is open (SERVER_STATUS_IN_TRANS), also one begun with the driver itself.
    async probeTransaction() {
      const header = await send('DO 0');
      const status = (header as { serverStatus?: unknown } | null)?.serverStatus;
      if (typeof status !== 'number') throw new TypeError('mysql2 returned no server status for DO 0');
      return (status & 1) === 1;
    },
    serverIdle: () => (lastStatus === undefined ? undefined : (lastStatus & 1) === 0),
    ...(exclusive && {
      inTransaction: () => (lastStatus === undefined ? undefined : (lastStatus & 1) === 1),
    }),
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
          ...(verifyCommits
            ? markerChecks(
                sql,
                async (statement: string) => {
                  const [rows] = await sidecar.query(statement);
                  return rows as Record<string, unknown>[];
                },
                sidecar,
              )
            : {}),
        }),
    destroy() {
      broken = true;
      connection.destroy?.();
    },
  });
}

/** The flavor the server announced in the handshake mysql2 already read (no round trip), else 'mysql'. */
function handshakeFlavor(connection: Mysql2ConnectionLike): 'mysql' | 'mariadb' {
  const inner = connection.connection ?? (connection as Mysql2ConnectionLike['connection']);
  const version = inner?._handshakePacket?.serverVersion;
  return typeof version === 'string' && /mariadb/i.test(version) ? 'mariadb' : 'mysql';
}

function queryResult(result: unknown): QueryResult {
  if (Array.isArray(result)) return { rows: result as Record<string, unknown>[], rowCount: result.length };
  return { rows: [], rowCount: Number((result as { affectedRows?: number }).affectedRows ?? 0) };
}
