import type { Dsn } from '../connect/dsn.js';
import type { OperationTarget } from '../core/diagnostics.js';

// OpenTelemetry's db.system.name values for dbop's backends.
const systemNames = {
  postgres: 'postgresql',
  mysql: 'mysql',
  mariadb: 'mariadb',
  sqlite: 'sqlite',
  cockroach: 'cockroachdb',
} as const;

/**
 * What a Database's operations run against, from its parsed URL: the system, the database name (or file),
 * and the first host and port. Never the user or the password. A multi-host URL names its first host: the
 * server an attempt reaches is only known per connection.
 */
export function operationTarget(dsn: Dsn): OperationTarget {
  const namespace = dsn.database ?? dsn.path;
  const host = dsn.hosts?.[0];
  return Object.freeze({
    system: systemNames[dsn.backend],
    ...(namespace === undefined || namespace === '' ? {} : { namespace }),
    ...(host === undefined ? {} : { address: host.host }),
    ...(host?.port === undefined ? {} : { port: host.port }),
  });
}
