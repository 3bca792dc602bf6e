import type { Dsn } from '../../connect/dsn.js';
import type { Session } from '../../core/session.js';
import { mariadbFactory } from '../../pool/factories/mariadb-factory.js';
import { mysql2Factory } from '../../pool/factories/mysql2-factory.js';
import type { MariadbStreamingConnection } from '../../sessions/mariadb/mariadb-connect.js';
import { mariadbSession } from '../../sessions/mariadb/mariadb-session.js';
import type { Mysql2StreamingConnection } from '../../sessions/mysql2/mysql2-connect.js';
import { ownedMysql2Session } from '../../sessions/mysql2/mysql2-session.js';
import { oneShotSidecar } from '../../sessions/shared/mysql-family.js';
import type { ConnectorSettings, DriverConnector } from './driver-connector.js';
import { mysqlPoolConfig } from './mysql-pool-config.js';
import { factorySessionPool } from './session-pool.js';

interface OneShotModule {
  createConnection(config: Record<string, unknown>): Promise<never>;
}

function unwrap(module: unknown): OneShotModule {
  return ((module as { default?: unknown }).default ?? module) as OneShotModule;
}

function poolOptions(settings: ConnectorSettings) {
  return {
    name: settings.name,
    max: settings.max,
    connectTimeoutMs: settings.connectTimeoutMs,
    ...settings.pool,
  };
}

/**
 * mysql:// through mysql2 on dbop's pool, one session per connection. The server's flavor comes from the
 * URL's `?flavor=`, else from each connection's handshake (a MariaDB version string says mariadb).
 */
export function mysql2Connector(module: unknown, target: Dsn, settings: ConnectorSettings): DriverConnector {
  const { flavor: urlFlavor, config } = mysqlPoolConfig(target, settings);
  const driver = unwrap(module);
  const sidecar = oneShotSidecar<[unknown, unknown]>(() => driver.createConnection({ ...config }));
  let flavor = urlFlavor;
  const pool = factorySessionPool(
    mysql2Factory(config, { driver: module }),
    (connection) => {
      const session = ownedMysql2Session(connection as unknown as Mysql2StreamingConnection, {
        ...(flavor === undefined ? {} : { flavor }),
        sidecar,
        verifyCommits: settings.verifyCommits,
      });
      flavor ??= session.dialect === 'mariadb' ? 'mariadb' : 'mysql';
      return session;
    },
    poolOptions(settings),
  );
  return {
    backend: () => flavor ?? 'mysql',
    acquire: (signal) => pool.acquire(signal),
    release: (session) => pool.release(session as Session<Mysql2StreamingConnection>),
    close: () => pool.close(),
    counts: () => pool.counts(),
    stream: (session, sql, values) =>
      (session.raw as Mysql2StreamingConnection).connection.query(sql, values).stream({ objectMode: true }),
  };
}

/** mariadb:// through the mariadb connector on dbop's pool, one session per connection. */
export function mariadbConnector(module: unknown, target: Dsn, settings: ConnectorSettings): DriverConnector {
  // The connector's default (logParam true) appends every parameter value to error messages: a password
  // inserted by a failing statement would end up in logs.
  const config = { ...mysqlPoolConfig(target, settings).config, logParam: false };
  const driver = unwrap(module);
  const sidecar = oneShotSidecar<unknown>(() => driver.createConnection({ ...config }));
  const pool = factorySessionPool(
    mariadbFactory(config, { driver: module }),
    (connection) =>
      mariadbSession(connection as unknown as MariadbStreamingConnection, {
        flavor: 'mariadb',
        sidecar,
        verifyCommits: settings.verifyCommits,
      }),
    poolOptions(settings),
  );
  return {
    backend: () => 'mariadb',
    acquire: (signal) => pool.acquire(signal),
    release: (session) => pool.release(session as Session<MariadbStreamingConnection>),
    close: () => pool.close(),
    counts: () => pool.counts(),
    stream: (session, sql, values) => (session.raw as MariadbStreamingConnection).queryStream(sql, values),
  };
}
