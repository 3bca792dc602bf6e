import type { Backend } from '../../core/classification.js';
import type { DialectSql } from '../../core/dialect-sql.js';
import type { QueryResult, Session } from '../../core/session.js';
import { classify } from '../../dialects/classify.js';
import { mariadbSql } from '../../dialects/mariadb/mariadb-sql.js';
import { mysqlSql } from '../../dialects/mysql/mysql-sql.js';
import { postgresSql } from '../../dialects/postgres/postgres-sql.js';
import { sqliteSql } from '../../dialects/sqlite/sqlite-sql.js';
import { DriverSession } from '../../sessions/shared/driver-session.js';
import { checkThreadId, endsMysqlTransaction, markerChecks } from '../../sessions/shared/mysql-family.js';
import { postgresCommitStatus } from '../../sessions/shared/postgres-commit-status.js';
import type { CommitStatus, SessionDriver } from '../../sessions/shared/session-driver.js';

/** The backends the ORM integrations run on. */
export type OrmDialect = 'postgres' | 'mysql' | 'mariadb' | 'sqlite';

/** What one statement sent through the ORM's connection returned, with the ORM's own result kept. */
export interface OrmQueryResult extends QueryResult {
  /** The command tag, where the driver reports one (node-postgres: 'COMMIT', 'ROLLBACK'). */
  readonly command?: string | undefined;
  /** The ORM's own result object, handed back to the ORM unchanged. */
  readonly original?: unknown;
}

/** Runs one statement through the ORM (so its query log sees it); parameters are bound, never inlined. */
export type OrmRun = (sql: string, params: readonly unknown[]) => Promise<OrmQueryResult>;

/** How {@link ormConnectionSession} reaches the server through the ORM. */
export interface OrmConnection<Raw> {
  readonly dialect: OrmDialect;
  /** What the session's `raw` is: the ORM's connection object. */
  readonly raw: Raw;
  /** Statements on the connection the transaction runs on. */
  readonly run: OrmRun;
  /**
   * Statements on another connection of the ORM's pool (cancel, commit lookups, ending a connection whose
   * state is unknown); absent where there is only one connection (SQLite).
   */
  readonly sidecar?: OrmRun | undefined;
  /** The server's id of this connection (pg_backend_pid, CONNECTION_ID), read once per connection. */
  readonly serverId?: number | undefined;
  /** SQLite: the connection's own busy timeout, restored after each step (default 0). */
  readonly busyTimeoutMs?: number | undefined;
  /**
   * Whether the connection is in a transaction, read live where the driver shows it (better-sqlite3's
   * `inTransaction`): a BEGIN that failed (SQLITE_BUSY) then leaves nothing to roll back.
   */
  readonly inTransaction?: (() => boolean) | undefined;
  /**
   * Called after any statement on the connection failed, before the error goes on: where the driver cannot
   * show the transaction state (node-sqlite3), this asks whether the failure ended the transaction.
   */
  readonly afterFailure?: (() => Promise<void>) | undefined;
  /** True when the driver connection can no longer be used (where the ORM shows it). */
  readonly isBroken?: () => boolean;
  /** MySQL family: write a commit-marker row with each write transaction's COMMIT, looked up after a loss. */
  readonly verifyCommits?: boolean;
  /** Identifies the server for the commit-marker table (created once per scope). */
  readonly markerScope?: object;
}

// What ormStatement() passes as the statement: the ORM's own call runs in its place.
const ormOwnStatement = '/* dbop: a statement the ORM sends itself */';

/**
 * Sends a statement the ORM itself sends on the transaction's connection (its query API, with its own
 * result shape) through session, as if dbop had sent it: the attempt's fence refuses it once the attempt
 * was abandoned, a statement in flight is cancelled at the attempt's time limit, and a failure that ends
 * the transaction on the server (MySQL's deadlock rolls it back) is recorded, so later statements are
 * refused instead of running in autocommit and COMMIT reports the failure instead of committing the rest.
 */
export async function ormStatement<T>(session: Session, send: () => Promise<T>): Promise<T> {
  const result = (await session.query(ormOwnStatement, [send])) as OrmQueryResult;
  return result.original as T;
}

/**
 * A dbop Session whose every statement goes through an ORM's own connection, so the ORM's pool, query
 * log and configuration stay in charge: transaction state is tracked by dbop, a lost COMMIT is verified
 * on another connection of the same pool, and a connection in an unknown state is ended on the server,
 * which makes the ORM's pool discard it.
 */
export function ormConnectionSession<Raw>(connection: OrmConnection<Raw>): Session<Raw> {
  const { dialect, run, sidecar, serverId, afterFailure } = connection;
  const sql = sqlOf(dialect, connection.busyTimeoutMs);
  let broken = false;
  let lastCommand: string | undefined;
  const send = async (statement: string, params: readonly unknown[]): Promise<OrmQueryResult> => {
    try {
      return await run(statement, params);
    } catch (error) {
      // A connection-scope failure (the socket closed, the backend was killed) leaves nothing to reuse.
      if (classify(error, { dialect }).kind === 'connection-lost') broken = true;
      else await afterFailure?.();
      throw error;
    }
  };
  const sendOrmOwn = async (work: () => Promise<unknown>): Promise<OrmQueryResult> => {
    try {
      return { rows: [], rowCount: 0, original: await work() };
    } catch (error) {
      if (classify(error, { dialect }).kind === 'connection-lost') broken = true;
      else await afterFailure?.();
      throw error;
    }
  };
  const driver: SessionDriver<Raw> = {
    dialect,
    sql,
    raw: connection.raw,
    query: (statement, params) =>
      statement === ormOwnStatement
        ? sendOrmOwn(params?.[0] as () => Promise<unknown>)
        : send(statement, params ?? []),
    async batch(statements) {
      // One statement per round trip: the ORM's connection answers one statement per call.
      let result: OrmQueryResult = { rows: [], rowCount: 0 };
      lastCommand = undefined;
      for (const statement of statements) result = await send(statement, []);
      lastCommand = result.command;
      return result.rows;
    },
    lastCommand: () => lastCommand,
    isBroken: () => broken || connection.isBroken?.() === true,
    ...(connection.inTransaction === undefined ? {} : { inTransaction: connection.inTransaction }),
    ...(dialect === 'mysql' || dialect === 'mariadb' ? { endsTransaction: endsMysqlTransaction } : {}),
    ...sidecarChecks(dialect, sql, sidecar, serverId, connection),
    destroy() {
      if (broken) return;
      broken = true;
      // The ORM's pool has no public "discard": ending the backend makes it drop the connection at release.
      const id = dialect === 'postgres' ? serverId : checkThreadId(serverId);
      if (sidecar === undefined || id === undefined) return;
      const end = dialect === 'postgres' ? 'SELECT pg_terminate_backend($1)' : `KILL ${id}`;
      sidecar(end, dialect === 'postgres' ? [id] : []).catch(() => undefined);
    },
  };
  return new DriverSession(driver);
}

function sqlOf(dialect: OrmDialect, busyTimeoutMs: number | undefined): DialectSql {
  if (dialect === 'postgres') return postgresSql();
  if (dialect === 'mariadb') return mariadbSql();
  if (dialect === 'mysql') return mysqlSql();
  return sqliteSql(busyTimeoutMs === undefined ? {} : { baseBusyTimeoutMs: busyTimeoutMs });
}

function sidecarChecks(
  dialect: Backend,
  sql: DialectSql,
  sidecar: OrmRun | undefined,
  serverId: number | undefined,
  connection: OrmConnection<unknown>,
): Partial<Pick<SessionDriver<unknown>, 'cancel' | 'commitStatus' | 'marksCommits' | 'markerScope'>> {
  if (sidecar === undefined) return {};
  if (dialect === 'postgres') {
    return {
      ...(serverId === undefined
        ? {}
        : {
            async cancel() {
              await sidecar('SELECT pg_cancel_backend($1)', [serverId]);
            },
          }),
      commitStatus: (transactionId: string): Promise<CommitStatus> =>
        postgresCommitStatus(
          transactionId,
          async (statement, params) => (await sidecar(statement, params)).rows,
        ),
    };
  }
  if (dialect !== 'mysql' && dialect !== 'mariadb') return {};
  const threadId = checkThreadId(serverId);
  return {
    ...(threadId === undefined
      ? {}
      : {
          async cancel() {
            await sidecar(`KILL QUERY ${threadId}`, []);
          },
        }),
    ...(connection.verifyCommits === true
      ? markerChecks(
          sql,
          async (statement) => (await sidecar(statement, [])).rows,
          connection.markerScope ?? sidecar,
        )
      : {}),
  };
}

/** The node-postgres client an ORM lends, as far as {@link pgClientSession} reads it. */
export interface OrmPgClient {
  query(
    text: string,
    params: unknown[],
  ): Promise<{ rows?: Record<string, unknown>[]; rowCount: number | null; command?: string }>;
  readonly processID?: number;
  readonly _queryable?: boolean;
  readonly _ending?: boolean;
}

/**
 * A dbop Session over a node-postgres client an ORM lent (Sequelize's, TypeORM's): statements logged
 * through the ORM's own logger, broken once pg says the client can no longer be queried.
 */
export function pgClientSession<Raw>(
  client: OrmPgClient,
  raw: Raw,
  log: (sql: string, params: unknown[]) => void,
  sidecar: OrmRun,
): Session<Raw> {
  return ormConnectionSession({
    dialect: 'postgres',
    raw,
    async run(sql, params) {
      log(sql, [...params]);
      const result = await client.query(sql, [...params]);
      return { rows: result.rows ?? [], rowCount: result.rowCount ?? 0, command: result.command };
    },
    sidecar,
    serverId: client.processID,
    isBroken: () => client._queryable === false || client._ending === true,
  });
}
