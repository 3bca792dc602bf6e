import { cockroachErrors } from '../dialects/cockroach/cockroach-errors.js';
import type { ErrorTable } from '../dialects/error-table.js';
import { mariadbClientErrors, mariadbOnlyErrors } from '../dialects/mariadb/mariadb-errors.js';
import { mysql2ClientErrors } from '../dialects/mysql/mysql-client-errors.js';
import { mysqlCommonErrors, mysqlOnlyErrors } from '../dialects/mysql/mysql-errors.js';
import { nodeErrors } from '../dialects/node-errors.js';
import { postgresJsClientErrors } from '../dialects/postgres/postgres-client-errors.js';
import { postgresErrors } from '../dialects/postgres/postgres-errors.js';
import { sqliteErrors } from '../dialects/sqlite/sqlite-errors.js';

const tables: readonly ErrorTable[] = [
  postgresErrors,
  postgresJsClientErrors,
  mysqlCommonErrors,
  mysqlOnlyErrors,
  mariadbOnlyErrors,
  mariadbClientErrors,
  mysql2ClientErrors,
  sqliteErrors,
  nodeErrors,
  cockroachErrors,
];

let listed: ReadonlySet<string> | undefined;

/**
 * Whether some error table of dbop has an entry for `code` (upper case). Some entries say 'unknown' on
 * purpose (25P02, SQLITE_LOCKED): those are known codes, unlike a code no table lists.
 */
export function isListedErrorCode(code: string): boolean {
  listed ??= new Set(tables.flatMap((table) => table.map(([entry]) => entry.toUpperCase())));
  return listed.has(code.toUpperCase());
}
