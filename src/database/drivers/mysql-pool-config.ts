import type { Dsn } from '../../connect/dsn.js';
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
    throw new TypeError(`Expected the URL's \`flavor\` to be mysql or mariadb, got ${flavor}`);
  }
  const host = target.hosts?.[0];
  return {
    flavor: target.backend === 'mariadb' ? 'mariadb' : flavor,
    config: {
      ...mysqlUrlOptions(query, target.redacted),
      host: host?.host,
      port: host?.port ?? 3306,
      ...(target.user === undefined ? {} : { user: target.user }),
      ...(target.password === undefined ? {} : { password: target.password }),
      ...(target.database === undefined ? {} : { database: target.database }),
      connectTimeout: settings.connectTimeoutMs,
    },
  };
}
