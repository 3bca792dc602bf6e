import type { DialectSql } from '../../core/dialect-sql.js';
import { mysqlFamilySql } from '../mysql/mysql-sql.js';

/** MariaDB scope SQL: innodb_lock_wait_timeout, and max_statement_time (fractional seconds, any statement). */
export function mariadbSql(): DialectSql {
  return mysqlFamilySql('mariadb', { name: 'max_statement_time', format: (ms) => (ms / 1000).toFixed(3) });
}
