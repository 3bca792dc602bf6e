import type { DialectSql } from '../../core/dialect-sql.js';
import { expectOptionalBoolean, expectOptionalOneOf, expectOptions } from '../../core/validate.js';
import { mariadbSql } from '../../dialects/mariadb/mariadb-sql.js';
import { mysqlSql } from '../../dialects/mysql/mysql-sql.js';
import type { CommitStatus } from './session-driver.js';

/** MySQL errnos after which the server has already rolled the whole transaction back. */
const transactionEnding = new Set([1213]);

/** True when a MySQL or MariaDB error ended the transaction on the server (deadlock victim, Galera conflict). */
export function endsMysqlTransaction(error: unknown): boolean {
  const errno = (error as { errno?: unknown } | null)?.errno;
  return typeof errno === 'number' && transactionEnding.has(errno);
}

/** Checks a connection thread id before it goes into KILL QUERY. */
export function checkThreadId(threadId: unknown): number | undefined {
  return typeof threadId === 'number' && Number.isSafeInteger(threadId) && threadId > 0
    ? threadId
    : undefined;
}

/** What the options of mysql2Session and mariadbSession resolve to. */
export interface MysqlFamilyOptions<Sidecar> {
  readonly flavor: 'mysql' | 'mariadb';
  readonly sql: DialectSql;
  readonly sidecar: Sidecar | undefined;
  readonly verifyCommits: boolean;
}

const knownKeys: ReadonlySet<string> = new Set(['flavor', 'sidecar', 'verifyCommits']);

/**
 * Validates the options both MySQL-family sessions take (unknown keys rejected) and picks the SQL. Without a
 * `flavor`, `defaultFlavor` decides (a function is asked only then: the server the connection reports).
 */
export function resolveMysqlFamilyOptions<Sidecar>(
  options:
    | { readonly flavor?: 'mysql' | 'mariadb'; readonly sidecar?: Sidecar; readonly verifyCommits?: boolean }
    | undefined,
  factory: string,
  defaultFlavor: 'mysql' | 'mariadb' | (() => 'mysql' | 'mariadb'),
): MysqlFamilyOptions<Sidecar> {
  const o = expectOptions(options, knownKeys, `${factory}()`);
  const flavor =
    expectOptionalOneOf('flavor', o.flavor, flavors) ??
    (typeof defaultFlavor === 'function' ? defaultFlavor() : defaultFlavor);
  expectOptionalBoolean('verifyCommits', o.verifyCommits);
  const verifyCommits = o.verifyCommits === true;
  if (verifyCommits && o.sidecar === undefined) {
    throw new TypeError(
      '`verifyCommits` needs a `sidecar`: the lookup after a lost COMMIT runs on another connection',
    );
  }
  const sql = flavor === 'mariadb' ? mariadbSql() : mysqlSql();
  return { flavor, sql, sidecar: o.sidecar, verifyCommits };
}

/**
 * What a MySQL-family session adds to verify commits by marker rows: the lookup on the sidecar after a lost
 * COMMIT. The lookup is a locking read, so it waits while the lost transaction is still being committed or
 * rolled back; a lock wait timeout (1205) means it still is, and verifyCommit asks again.
 */
export function markerChecks(
  sql: DialectSql,
  lookup: (statement: string) => Promise<Record<string, unknown>[]>,
  scope: object,
): {
  readonly marksCommits: true;
  readonly markerScope: object;
  commitStatus(id: string): Promise<CommitStatus>;
} {
  const marker = sql.commitMarker;
  if (marker === undefined) throw new TypeError(`${sql.dialect} has no commit markers`);
  return {
    marksCommits: true,
    markerScope: scope,
    async commitStatus(id: string): Promise<CommitStatus> {
      let rows: Record<string, unknown>[];
      try {
        rows = await lookup(marker.lookup(id));
      } catch (error) {
        if ((error as { errno?: unknown } | null)?.errno === 1205) return 'in progress';
        throw error;
      }
      return Number(rows[0]?.found ?? 0) > 0 ? 'committed' : 'aborted';
    },
  };
}

const flavors = ['mysql', 'mariadb'] as const;

/** The one 'error' listener dbop puts on a connection, passing each error to the session that has it now. */
interface ErrorRelay {
  (error: unknown): void;
  current: () => void;
}

const relayMark = Symbol.for('dbop.errorRelay');
const relays: WeakMap<object, ErrorRelay> = new WeakMap();

/**
 * Listens for 'error' with one listener per underlying connection, whichever session has it now: a
 * connection killed while checked out emits one, and unhandled it would crash the process. `onError` marks
 * the current session broken. The mariadb connector hands out a new wrapper per checkout over the same
 * connection, so the listener is found again through listeners('error'), not by the wrapper's identity.
 */
export function watchConnectionErrors(
  connection: {
    on?: (event: 'error', listener: (error: unknown) => void) => unknown;
    listeners?: (event: 'error') => readonly unknown[];
  },
  onError: () => void,
): void {
  if (typeof connection.on !== 'function') return;
  let relay = relays.get(connection);
  if (relay === undefined && typeof connection.listeners === 'function') {
    relay = connection
      .listeners('error')
      .find((listener): listener is ErrorRelay => typeof listener === 'function' && relayMark in listener);
  }
  if (relay === undefined) {
    const created = ((_error: unknown) => created.current()) as ErrorRelay;
    Object.defineProperty(created, relayMark, { value: true });
    relay = created;
    connection.on('error', relay);
  }
  relay.current = onError;
  relays.set(connection, relay);
}

/** SERVER_STATUS_IN_TRANS: the server has a transaction open on the connection. */
export const statusInTransaction = 1;
/** SERVER_STATUS_AUTOCOMMIT. */
const statusAutocommit = 2;

/**
 * The server status flags after a statement the server answered without status flags the driver kept (a
 * result set whose closing EOF the driver read and dropped, or an error packet), from the flags before it.
 * With autocommit on, such a statement leaves the state as it was: a SELECT opens no transaction and ends
 * none, an error outside a transaction opens none. Unknown otherwise (autocommit off: a SELECT opens one;
 * an error inside a transaction may have ended it; several statements in one call: the earlier ones may
 * have changed it).
 */
export function statusWithoutFlags(
  before: number | undefined,
  failed: boolean,
  multipleStatements: boolean,
): number | undefined {
  if (before === undefined || (before & statusAutocommit) === 0) return undefined;
  if (failed && (multipleStatements || (before & statusInTransaction) !== 0)) return undefined;
  return before;
}

/**
 * The status flags after a mysql2 query()'s result (`[result, fields]`'s first element): an OK packet's
 * own (a ResultSetHeader, or the last one of several results), else {@link statusWithoutFlags}. A CALL
 * answers with result sets and a closing OK packet: a list holding lists, whose last element is that packet.
 */
export function mysql2StatusAfter(
  before: number | undefined,
  result: unknown,
  multipleStatements: boolean,
): number | undefined {
  if (!Array.isArray(result)) {
    const status = (result as { serverStatus?: unknown } | null)?.serverStatus;
    return typeof status === 'number' ? status : undefined;
  }
  if (multipleStatements || result.some(Array.isArray)) {
    const last: unknown = result[result.length - 1];
    const status = Array.isArray(last)
      ? undefined
      : (last as { serverStatus?: unknown } | null)?.serverStatus;
    return typeof status === 'number' ? status : undefined;
  }
  return statusWithoutFlags(before, false, false);
}

/** A MySQL-family connection as a one-shot sidecar uses it. */
interface OneShotConnection<Answer> {
  query(sql: string, values?: unknown): Promise<Answer>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: unknown) => void): unknown;
}

/**
 * Runs each query on a new connection `open` makes outside the pool, closed once the query is done: KILL
 * QUERY and commit checks, which must not wait behind the very statements they are about (a full pool).
 */
export function oneShotSidecar<Answer>(open: () => Promise<OneShotConnection<Answer>>): {
  query(sql: string, values?: unknown): Promise<Answer>;
} {
  return {
    async query(sql, values) {
      const connection = await open();
      // A connection dropped mid-way rejects the pending call; the listener keeps it from crashing the process.
      connection.on('error', () => {});
      try {
        return await connection.query(sql, values);
      } finally {
        connection.end().catch(() => undefined);
      }
    },
  };
}
