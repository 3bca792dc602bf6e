import type { Dsn } from '../../connect/dsn.js';
import { observePoolGauges } from '../../pool/pool.js';
import { importBetterSqlite3 } from '../../sessions/better-sqlite3/better-sqlite3-connect.js';
import { importMariadb, mariadbConnect } from '../../sessions/mariadb/mariadb-connect.js';
import { importMysql2, mysql2Connect } from '../../sessions/mysql2/mysql2-connect.js';
import { importPg } from '../../sessions/pg/pg-connect.js';
import { importPglite } from '../../sessions/pglite/pglite-connect.js';
import { loadDriver } from '../load-driver.js';
import type { ConnectorSettings, DriverConnector } from './driver-connector.js';
import { guardDriverPool } from './driver-pool-guard.js';
import { mysqlPoolConfig } from './mysql-pool-config.js';
import { pgConnector } from './pg-connector.js';
import { pgPoolConfig } from './pg-pool-config.js';
import { pgliteConnector } from './pglite-connector.js';
import { sqliteConnector } from './sqlite-connector.js';

/**
 * Loads the URL's driver (on first use: the import() lives in its sessions folder) and opens its pool.
 * PostgreSQL (pg), SQLite and PGlite get dbop's pool; mysql2 and mariadb keep their own, with the pool
 * options they lack served around it (driver-pool-guard.ts; see docs/pools.md).
 */
export async function openConnector(target: Dsn, settings: ConnectorSettings): Promise<DriverConnector> {
  switch (target.driver) {
    case 'pg':
      return pgConnector(await loadDriver('pg', importPg), pgPoolConfig(target, settings), settings);
    case 'mysql2': {
      const { flavor, config } = mysqlPoolConfig(target, settings);
      const { minIdle, idleTimeoutMs } = settings.pool;
      const mysql2 = mysql2Connect(await loadDriver('mysql2', importMysql2), {
        // mysql2 closes idle connections beyond maxIdle after idleTimeout (ms); it opens none ahead of need.
        config:
          minIdle === undefined && idleTimeoutMs === undefined
            ? config
            : { ...config, maxIdle: minIdle ?? 0, idleTimeout: idleTimeoutMs || 2 ** 31 - 1 },
        max: settings.max,
        flavor,
        verifyCommits: settings.verifyCommits,
      });
      return observed(
        guardDriverPool({ ...mysql2, backend: mysql2.flavor }, settings, { acquireTimeoutMs: false }),
        settings.name,
      );
    }
    case 'mariadb': {
      const { config } = mysqlPoolConfig(target, settings);
      const { minIdle, idleTimeoutMs, acquireTimeoutMs } = settings.pool;
      const mariadb = mariadbConnect(await loadDriver('mariadb', importMariadb), {
        // The connector's own: minimumIdle kept open, idleTimeout in whole seconds (0 never).
        config: {
          ...config,
          ...(minIdle === undefined ? {} : { minimumIdle: minIdle }),
          ...(idleTimeoutMs === undefined ? {} : { idleTimeout: Math.ceil(idleTimeoutMs / 1000) }),
        },
        max: settings.max,
        connectTimeoutMs: settings.connectTimeoutMs,
        ...(acquireTimeoutMs === undefined ? {} : { acquireTimeoutMs }),
        verifyCommits: settings.verifyCommits,
      });
      return observed(
        guardDriverPool({ ...mariadb, backend: () => 'mariadb' }, settings, { acquireTimeoutMs: true }),
        settings.name,
      );
    }
    case 'better-sqlite3':
      return sqliteConnector(await loadDriver('better-sqlite3', importBetterSqlite3), target, settings);
    case '@electric-sql/pglite':
      return pgliteConnector(await loadDriver('@electric-sql/pglite', importPglite), target, settings);
  }
}

/**
 * A driver's own pool made visible to the pool metrics (db.client.connection.count and .pending_requests)
 * like dbop's: its counts are read when collected, until it is closed.
 */
function observed(connector: DriverConnector, name: string): DriverConnector {
  const source = {
    name,
    closed: false,
    gauges() {
      const { total, idle, waiting } = connector.counts();
      return { idle, inUse: total - idle, pending: waiting };
    },
  };
  observePoolGauges(source);
  return {
    ...connector,
    // The closure keeps the source alive exactly as long as the connector.
    async close() {
      source.closed = true;
      await connector.close();
    },
  };
}
