import type { Dsn } from '../../connect/dsn.js';
import { importBetterSqlite3 } from '../../sessions/better-sqlite3/better-sqlite3-connect.js';
import { importMariadb } from '../../sessions/mariadb/mariadb-connect.js';
import { importMysql2 } from '../../sessions/mysql2/mysql2-connect.js';
import { importPg } from '../../sessions/pg/pg-connect.js';
import { importPglite } from '../../sessions/pglite/pglite-connect.js';
import { loadDriver } from '../load-driver.js';
import type { ConnectorSettings, DriverConnector } from './driver-connector.js';
import { mariadbConnector, mysql2Connector } from './mysql-connector.js';
import { pgConnector } from './pg-connector.js';
import { pgPoolConfig } from './pg-pool-config.js';
import { pgliteConnector } from './pglite-connector.js';
import { sqliteConnector } from './sqlite-connector.js';

/**
 * Loads the URL's driver (on first use: the import() lives in its sessions folder) and opens dbop's pool
 * over its connections, with the same pool options for every URL.
 */
export async function openConnector(target: Dsn, settings: ConnectorSettings): Promise<DriverConnector> {
  switch (target.driver) {
    case 'pg':
      return pgConnector(await loadDriver('pg', importPg), pgPoolConfig(target, settings), settings);
    case 'mysql2':
      return mysql2Connector(await loadDriver('mysql2', importMysql2), target, settings);
    case 'mariadb':
      return mariadbConnector(await loadDriver('mariadb', importMariadb), target, settings);
    case 'better-sqlite3':
      return sqliteConnector(await loadDriver('better-sqlite3', importBetterSqlite3), target, settings);
    case '@electric-sql/pglite':
      return pgliteConnector(await loadDriver('@electric-sql/pglite', importPglite), target, settings);
  }
}
