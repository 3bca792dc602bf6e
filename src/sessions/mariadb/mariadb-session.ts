import type { Session } from '../../core/session.js';
import { DriverSession } from '../shared/driver-session.js';
import {
  checkThreadId,
  endsMysqlTransaction,
  markerChecks,
  resolveMysqlFamilyOptions,
  statusInTransaction,
  statusWithoutFlags,
  watchConnectionErrors,
} from '../shared/mysql-family.js';
import type { MariadbConnectionLike, MariadbQueryable } from './mariadb-types.js';

/** Options of {@link mariadbSession}. */
export interface MariadbSessionOptions {
  /** Which server the connection talks to (default 'mariadb'). */
  readonly flavor?: 'mysql' | 'mariadb';
  /** A second way to reach the server (usually the pool): it sends KILL QUERY for a timed-out statement. */
  /**
   * Verify a COMMIT whose connection was lost (default false): each write transaction inserts a row with a
   * random id into dbop_commit_marker (created on first use) with its COMMIT, looked up through the sidecar.
   * Costs one INSERT per write transaction (a round trip unless the driver pipelines).
   */
  readonly verifyCommits?: boolean;
  readonly sidecar?: MariadbQueryable;
}

/**
 * A dbop Session over a connection of the `mariadb` connector.
 * @example
 * const session = mariadbSession(await pool.getConnection(), { sidecar: pool });
 */
export function mariadbSession<Connection extends MariadbConnectionLike>(
  connection: Connection,
  options: MariadbSessionOptions = {},
): Session<Connection> {
  const { flavor, sql, sidecar, verifyCommits } = resolveMysqlFamilyOptions(
    options,
    'mariadbSession',
    'mariadb',
  );
  let broken = false;
  watchConnectionErrors(connection, () => {
    broken = true;
  });
  // An error packet carries no status flags, and the connector then marks the copy as in a transaction:
  // after an error that ended the transaction it is stale, after one outside a transaction with autocommit
  // on (statusWithoutFlags) the flags from before the statement still hold.
  let endedByError = false;
  let flagsBeforeError: number | undefined;
  const run = async (sql: string, params?: readonly unknown[]) => {
    const before = connection.info?.status ?? undefined;
    let result: unknown;
    try {
      result = await connection.query(sql, params === undefined ? undefined : [...params]);
    } catch (error) {
      // Not the connector's SqlError: the client failed while encoding the statement (a parameter whose
      // toJSON throws, a circular object), and the connector 3.5 then leaves the connection wedged, every
      // later statement waiting forever. It is not used again.
      if (typeof (error as { errno?: unknown } | null)?.errno !== 'number') broken = true;
      if (endsMysqlTransaction(error)) endedByError = true;
      flagsBeforeError = statusWithoutFlags(before, true, false);
      throw error;
    }
    flagsBeforeError = undefined;
    endedByError = false;
    if (Array.isArray(result))
      return { rows: [...result] as Record<string, unknown>[], rowCount: result.length };
    return { rows: [], rowCount: Number((result as { affectedRows?: number | bigint }).affectedRows ?? 0) };
  };
  return new DriverSession<Connection>({
    dialect: flavor,
    sql,
    raw: connection,
    query: run,
    async batch(statements) {
      // multipleStatements is off by default in the connector (an injection guard): one statement per trip.
      let rows: Record<string, unknown>[] = [];
      for (const statement of statements) rows = (await run(statement)).rows;
      return rows;
    },
    endsTransaction: endsMysqlTransaction,
    inTransaction() {
      const status = connection.info?.status;
      if (typeof status !== 'number') return undefined;
      // SERVER_STATUS_IN_TRANS: the server's own answer, right even for a transaction begun outside dbop.
      if (endedByError) return false;
      return ((flagsBeforeError ?? status) & statusInTransaction) !== 0;
    },
    isBroken: () => broken || connection.isValid?.() === false,
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
                async (statement: string) => (await sidecar.query(statement)) as Record<string, unknown>[],
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
