import type { Dsn } from '../../connect/dsn.js';
import { DatabaseUrlError } from '../database-errors.js';
import type { ConnectorSettings } from './driver-connector.js';
import { mysqlUrlOptions } from './mysql-url-options.js';

/** MySQL or MariaDB: their error numbers and timeout settings differ. */
export type MysqlFlavor = 'mysql' | 'mariadb';

/** Pool options both MySQL-family drivers accept, from the URL; `?flavor=` is ours and is taken out. */
export function mysqlPoolConfig(
  target: Dsn,
  settings: ConnectorSettings,
): { flavor: MysqlFlavor | undefined; config: Record<string, unknown> } {
  const { flavor, ...query } = target.query ?? {};
  if (flavor !== undefined && flavor !== 'mysql' && flavor !== 'mariadb') {
    // The value is not quoted: it may be a pasted password.
    throw new DatabaseUrlError(
      'Expected the `flavor` query parameter of the database URL to be mysql or mariadb',
    );
  }
  const host = target.hosts?.[0];
  return {
    flavor: target.backend === 'mariadb' ? 'mariadb' : flavor,
    config: {
      ...mysqlUrlOptions(query),
      host: host?.host,
      port: host?.port ?? 3306,
      ...(target.user === undefined ? {} : { user: target.user }),
      ...(target.password === undefined ? {} : { password: target.password }),
      ...(target.database === undefined ? {} : { database: target.database }),
      connectTimeout: settings.connectTimeoutMs,
    },
  };
}
