import type { Backend } from '../core/classification.js';
import { importBetterSqlite3 } from '../sessions/better-sqlite3/better-sqlite3-connect.js';
import { importMariadb } from '../sessions/mariadb/mariadb-connect.js';
import { importPg } from '../sessions/pg/pg-connect.js';
import { importPglite } from '../sessions/pglite/pglite-connect.js';
import { driverMeets, type Fault, type FaultDriver } from './faults.js';

/** What an error is built from besides the fault: the statement, and the connection's server-side id. */
export interface FaultContext {
  /** The statement; absent for a connect fault. */
  readonly sql?: string;
  /** mysql2 and MariaDB only: the server tells apart MySQL and MariaDB messages and numbers. */
  readonly dialect?: Backend | undefined;
  /** mariadb only: the connection's thread id, part of the connector's message. */
  readonly threadId?: number | undefined;
}

type ErrorClass = new (...args: never[]) => Error;

// pg and PGlite fill every field of ErrorResponse, present or not, in the protocol's order.
const pgFields = [
  'severity',
  'code',
  'detail',
  'hint',
  'position',
  'internalPosition',
  'internalQuery',
  'where',
  'schema',
  'table',
  'column',
  'dataType',
  'constraint',
  'file',
  'line',
  'routine',
] as const;

interface PgReport {
  readonly severity: 'ERROR' | 'FATAL';
  readonly code: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
}

/** What PostgreSQL sends for each fault (the texts of its error reports, English locale). */
function postgresReport(fault: Fault, sql: string): PgReport | undefined {
  switch (fault) {
    case 'serialization':
      return {
        severity: 'ERROR',
        code: '40001',
        message: 'could not serialize access due to concurrent update',
      };
    case 'deadlock':
      return {
        severity: 'ERROR',
        code: '40P01',
        message: 'deadlock detected',
        detail:
          'Process 1 waits for ShareLock on transaction 2; blocked by process 3.\nProcess 3 waits for ShareLock on transaction 4; blocked by process 1.',
        hint: 'See server log for query details.',
      };
    case 'lock-timeout':
      return { severity: 'ERROR', code: '55P03', message: 'canceling statement due to lock timeout' };
    case 'statement-timeout':
      return { severity: 'ERROR', code: '57014', message: 'canceling statement due to statement timeout' };
    case 'read-only':
      return {
        severity: 'ERROR',
        code: '25006',
        message: `cannot execute ${verb(sql)} in a read-only transaction`,
      };
    case 'server-shutdown':
      return {
        severity: 'FATAL',
        code: '57P01',
        message: 'terminating connection due to administrator command',
      };
    case 'too-many-connections':
      return { severity: 'FATAL', code: '53300', message: 'sorry, too many clients already' };
    default:
      return undefined;
  }
}

/** The command tag Postgres names in its read-only message ("UPDATE", "CREATE TABLE", ...). */
function verb(sql: string): string {
  const words = sql
    .trim()
    .split(/\s+/, 2)
    .map((word) => word.toUpperCase());
  if (words[0] === 'CREATE' || words[0] === 'DROP' || words[0] === 'ALTER')
    return words.slice(0, 2).join(' ');
  return words[0] ?? 'UPDATE';
}

function postgresError(DatabaseError: ErrorClass, report: PgReport): Error {
  const Ctor = DatabaseError as unknown as new (message: string, length: number, name: string) => Error;
  const error = new Ctor(report.message, report.message.length + 60, 'error') as Error &
    Record<string, unknown>;
  for (const field of pgFields) error[field] = undefined;
  error.severity = report.severity;
  error.code = report.code;
  if (report.detail !== undefined) error.detail = report.detail;
  if (report.hint !== undefined) error.hint = report.hint;
  return error;
}

interface MysqlReport {
  readonly errno: number;
  readonly code: string | undefined;
  readonly sqlState: string;
  readonly message: string;
  readonly fatal?: boolean;
}

/** What MySQL or MariaDB sends for each fault (connection losses are the drivers' own). */
function mysqlReport(fault: Fault, dialect: Backend | undefined): MysqlReport | undefined {
  const maria = dialect !== 'mysql';
  switch (fault) {
    case 'serialization':
    // InnoDB reports a SERIALIZABLE conflict as a deadlock (1020 "record has changed" needs MariaDB 11.6's
    // snapshot isolation, which the servers we test against do not have).
    case 'deadlock':
      return {
        errno: 1213,
        code: 'ER_LOCK_DEADLOCK',
        sqlState: '40001',
        message: 'Deadlock found when trying to get lock; try restarting transaction',
      };
    case 'lock-timeout':
      return {
        errno: 1205,
        code: 'ER_LOCK_WAIT_TIMEOUT',
        sqlState: 'HY000',
        message: 'Lock wait timeout exceeded; try restarting transaction',
      };
    case 'statement-timeout':
      return maria
        ? {
            errno: 1969,
            code: 'ER_STATEMENT_TIMEOUT',
            sqlState: '70100',
            message: 'Query execution was interrupted (max_statement_time exceeded)',
          }
        : {
            errno: 3024,
            code: 'ER_QUERY_TIMEOUT',
            sqlState: 'HY000',
            message: 'Query execution was interrupted, maximum statement execution time exceeded',
          };
    case 'read-only':
      return {
        errno: 1290,
        code: 'ER_OPTION_PREVENTS_STATEMENT',
        sqlState: 'HY000',
        message: `The ${maria ? 'MariaDB' : 'MySQL'} server is running with the --read-only option so it cannot execute this statement`,
      };
    case 'too-many-connections':
      return {
        errno: 1040,
        code: 'ER_CON_COUNT_ERROR',
        sqlState: '08004',
        message: 'Too many connections',
        fatal: true,
      };
    default:
      return undefined;
  }
}

/** mysql2's server errors: a plain Error, with the fields in the order mysql2 sets them (never `fatal`). */
function mysql2Error(report: MysqlReport, sql: string | undefined): Error {
  const error = new Error(report.message) as Error & Record<string, unknown>;
  // mysql2 names only the numbers it knows: MariaDB-only ones (1969) keep an undefined code.
  error.code = report.errno === 1969 ? undefined : report.code;
  error.errno = report.errno;
  error.sqlState = report.sqlState;
  error.sqlMessage = report.message;
  error.sql = sql;
  return error;
}

/** A statement sent on a connection that had already closed (mysql2's own check). */
function mysql2Closed(): Error {
  const error = new Error("Can't add new command when connection is in closed state") as Error &
    Record<string, unknown>;
  error.fatal = true;
  return error;
}

/** The socket closed under a statement (mysql2's PROTOCOL_CONNECTION_LOST). */
function mysql2Lost(): Error {
  const error = new Error('Connection lost: The server closed the connection.') as Error &
    Record<string, unknown>;
  error.fatal = true;
  error.code = 'PROTOCOL_CONNECTION_LOST';
  return error;
}

type SqlErrorClass = new (
  msg: string,
  sql: string | null,
  fatal: boolean,
  info: { threadId: number } | null,
  sqlState: string,
  errno: number,
  additionalStack?: string,
  addHeader?: boolean,
) => Error;

/** better-sqlite3's code and message for a fault, if SQLite can fail with it. */
export function sqliteCode(fault: Fault): readonly [string, string] | undefined {
  switch (fault) {
    case 'serialization':
      return ['SQLITE_BUSY_SNAPSHOT', 'database is locked'];
    case 'deadlock':
    case 'lock-timeout':
      return ['SQLITE_BUSY', 'database is locked'];
    case 'read-only':
      return ['SQLITE_READONLY', 'attempt to write a readonly database'];
    default:
      return undefined;
  }
}

const classes = new Map<FaultDriver, Promise<ErrorClass | undefined>>();

/** The driver's own error class (loaded on first use; mysql2 has none: its errors are plain Errors). */
function errorClass(driver: FaultDriver): Promise<ErrorClass | undefined> {
  let found = classes.get(driver);
  if (found === undefined) {
    found = loadClass(driver);
    classes.set(driver, found);
  }
  return found;
}

async function loadClass(driver: FaultDriver): Promise<ErrorClass | undefined> {
  const unwrap = (module: unknown): Record<string, unknown> =>
    ((module as { default?: unknown }).default ?? module) as Record<string, unknown>;
  switch (driver) {
    case 'pg':
      return unwrap(await importPg()).DatabaseError as ErrorClass;
    case 'mariadb':
      return ((await importMariadb()) as Record<string, unknown>).SqlError as ErrorClass;
    case 'better-sqlite3':
      return unwrap(await importBetterSqlite3()).SqliteError as ErrorClass;
    case 'pglite': {
      const protocol = ((await importPglite()) as { protocol?: { messages?: Record<string, unknown> } })
        .protocol;
      return protocol?.messages?.DatabaseError as ErrorClass;
    }
    default:
      return undefined;
  }
}

/**
 * The error `driver` really raises for `fault`: same class, fields, codes and message as the server's
 * (checked against errors the test servers produced, test/integration/testing). Connection faults are the
 * driver's own client errors. Rejects with a TypeError for a fault the driver cannot meet.
 */
export async function driverError(driver: FaultDriver, fault: Fault, context: FaultContext): Promise<Error> {
  if (!driverMeets(driver, fault)) throw new TypeError(`The ${driver} driver never fails with "${fault}"`);
  const Class = await errorClass(driver);
  switch (driver) {
    case 'pg':
    case 'pglite': {
      // Sent on a connection that had already died / lost while the statement (a COMMIT) was in flight.
      if (fault === 'connection-lost' && driver === 'pg') {
        return new Error('Client has encountered a connection error and is not queryable');
      }
      if (fault === 'commit-lost' && driver === 'pg') return new Error('Connection terminated unexpectedly');
      const report = postgresReport(fault, context.sql ?? '');
      if (report !== undefined && Class !== undefined) return postgresError(Class, report);
      break;
    }
    case 'mysql2': {
      if (fault === 'connection-lost') return mysql2Closed();
      // MariaDB shutting down closes the socket under the statement: no 1053 reaches the client.
      if (fault === 'commit-lost' || fault === 'server-shutdown') return mysql2Lost();
      const report = mysqlReport(fault, context.dialect);
      if (report !== undefined) return mysql2Error(report, context.sql);
      break;
    }
    case 'mariadb': {
      const SqlError = Class as unknown as SqlErrorClass;
      const info = { threadId: context.threadId ?? -1 };
      if (fault === 'connection-lost') {
        const sql = context.sql === undefined ? null : `${context.sql} - parameters:[]`;
        return new SqlError(
          'Cannot execute new commands: connection closed',
          sql,
          true,
          info,
          '08S01',
          45013,
          undefined,
          // The connector's own check, before anything is sent: no connection header in the message.
          false,
        );
      }
      if (fault === 'commit-lost' || fault === 'server-shutdown') {
        return new SqlError('socket has unexpectedly been closed', null, true, info, '08S01', 45009);
      }
      const report = mysqlReport(fault, context.dialect ?? 'mariadb');
      // The connector appends the parameters it sent; dbop's sessions always send an array.
      if (report !== undefined) {
        return new SqlError(
          report.message,
          context.sql === undefined ? null : `${context.sql} - parameters:[]`,
          report.fatal ?? report.errno === 1969,
          info,
          report.sqlState,
          report.errno,
        );
      }
      break;
    }
    case 'better-sqlite3': {
      const code = sqliteCode(fault);
      const SqliteError = Class as unknown as new (message: string, code: string) => Error;
      if (code !== undefined) return new SqliteError(code[1], code[0]);
      break;
    }
  }
  throw new TypeError(`The ${driver} driver never fails with "${fault}"`);
}
