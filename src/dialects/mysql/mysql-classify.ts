import type { Classification } from '../../core/classification.js';
import { compileTable, makeClassification } from '../error-table.js';
import { mariadbClientErrors, mariadbOnlyErrors } from '../mariadb/mariadb-errors.js';
import { mysqlCommonErrors, mysqlOnlyErrors } from './mysql-errors.js';

/** The two MySQL-family flavors; the same number can mean different things on each (C2). */
export type MysqlFlavor = 'mysql' | 'mariadb';

const common = {
  mysql: compileTable(mysqlCommonErrors, 'mysql'),
  mariadb: compileTable(mysqlCommonErrors, 'mariadb'),
};
const mysqlOnly = compileTable(mysqlOnlyErrors, 'mysql');
const mariadbOnly = compileTable(mariadbOnlyErrors, 'mariadb');
const connector = {
  mysql: compileTable(mariadbClientErrors, 'mysql'),
  mariadb: compileTable(mariadbClientErrors, 'mariadb'),
};

/**
 * Classifies a MySQL-family error number. With a flavor, numbers of the other flavor are unknown. Without one,
 * the number itself decides where it can (1969 is MariaDB's, 3024 MySQL's); 4031 counts as MySQL's idle
 * disconnect only when it arrived as a fatal or unsolicited error, since on MariaDB it is an ordinary DDL error.
 */
export function classifyMysqlErrno(
  errno: number,
  flavor: MysqlFlavor | undefined,
  error: Record<string, unknown>,
): Classification | undefined {
  const key = String(errno);
  if (errno > 45000 && errno < 46000) return connector[flavor ?? 'mariadb'].get(key);
  const shared = common[flavor ?? guessFlavor(error)].get(key);
  if (shared !== undefined) return errno === 1226 ? userLimit(shared, error) : shared;
  if (flavor !== 'mariadb') {
    const own = mysqlOnly.get(key);
    if (own !== undefined && (flavor === 'mysql' || errno !== 4031 || arrivedUnsolicited(error))) return own;
  }
  return flavor === 'mysql' ? undefined : mariadbOnly.get(key);
}

// 1226 also reports hourly query and update quotas, which no backoff of milliseconds outlasts.
function userLimit(hit: Classification, error: Record<string, unknown>): Classification {
  const { message } = error;
  if (typeof message === 'string' && message.includes('max_user_connections')) return hit;
  return makeClassification('unknown', 'none', hit.backend, hit.code);
}

// mysql2 gives an unsolicited server error (no command waiting) a NUMERIC `code`; both drivers mark it fatal.
function arrivedUnsolicited(error: Record<string, unknown>): boolean {
  return typeof error.code === 'number' || error.fatal === true;
}

/** Without a dialect: the mariadb connector's SqlError mostly talks to MariaDB; anything else counts as MySQL. */
export function guessFlavor(error: Record<string, unknown>): MysqlFlavor {
  return error.name === 'SqlError' ? 'mariadb' : 'mysql';
}
