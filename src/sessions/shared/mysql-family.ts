import type { DialectSql } from '../../core/dialect-sql.js';
import { expectOptionalOneOf, expectOptions } from '../../core/validate.js';
import { mariadbSql } from '../../dialects/mariadb/mariadb-sql.js';
import { mysqlSql } from '../../dialects/mysql/mysql-sql.js';

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
}

const knownKeys: ReadonlySet<string> = new Set(['flavor', 'sidecar']);

/**
 * Validates the options both MySQL-family sessions take (unknown keys rejected) and picks the SQL. Without a
 * `flavor`, `defaultFlavor` decides (a function is asked only then: the server the connection reports).
 */
export function resolveMysqlFamilyOptions<Sidecar>(
  options: { readonly flavor?: 'mysql' | 'mariadb'; readonly sidecar?: Sidecar } | undefined,
  factory: string,
  defaultFlavor: 'mysql' | 'mariadb' | (() => 'mysql' | 'mariadb'),
): MysqlFamilyOptions<Sidecar> {
  const o = expectOptions(options, knownKeys, `${factory}()`);
  const flavor =
    expectOptionalOneOf('flavor', o.flavor, flavors) ??
    (typeof defaultFlavor === 'function' ? defaultFlavor() : defaultFlavor);
  return { flavor, sql: flavor === 'mariadb' ? mariadbSql() : mysqlSql(), sidecar: o.sidecar };
}

const flavors = ['mysql', 'mariadb'] as const;

const watched: WeakSet<object> = new WeakSet();

/**
 * Listens once per connection for 'error': a connection killed while checked out emits one, and unhandled
 * it would crash the process. `onError` marks the session broken.
 */
export function watchConnectionErrors(
  connection: { on?: (event: 'error', listener: (error: unknown) => void) => unknown },
  onError: () => void,
): void {
  if (typeof connection.on !== 'function' || watched.has(connection)) return;
  watched.add(connection);
  connection.on('error', onError);
}
