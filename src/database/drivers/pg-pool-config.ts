import { DatabaseUrlError } from '../../connect/database-url-error.js';
import { type Dsn, printableQueryKey } from '../../connect/dsn.js';
import { connectLayerParameter } from './connect-layer-parameter.js';
import type { ConnectorSettings } from './driver-connector.js';

const supported =
  'sslmode, ssl, application_name, options, pgbouncer, target_session_attrs, load_balance_hosts';

/**
 * node-postgres connection settings from a parsed URL: an object, never the URL itself, so pg does not
 * parse it a second time (and fail on a password holding an unencoded '/', '?' or '#'). The query
 * parameters are typed and known ones only, as for mysql: and mariadb:.
 */
export function pgPoolConfig(dsn: Dsn, settings: ConnectorSettings): Record<string, unknown> {
  const host = dsn.hosts?.[0];
  const config: Record<string, unknown> = {
    host: host?.host,
    port: host?.port ?? 5432,
    ...(dsn.user === undefined ? {} : { user: dsn.user }),
    ...(dsn.password === undefined ? {} : { password: dsn.password }),
    ...(dsn.database === undefined ? {} : { database: dsn.database }),
    connectionTimeoutMillis: settings.connectTimeoutMs,
  };
  let position = 0;
  for (const [key, value] of Object.entries(dsn.query ?? {})) {
    position += 1;
    switch (key) {
      case 'application_name':
      case 'options':
        config[key] = value;
        break;
      case 'sslmode':
        config.ssl = sslMode(value, position);
        break;
      case 'pgbouncer':
        // dbop's own setting (see DatabaseOptions.transactionPooler), read by createDatabase; not pg's.
        if (value !== 'true' && value !== 'false') throw bad(key, position, 'true or false');
        break;
      case 'ssl':
        if (value === 'true' || value === '1') config.ssl = true;
        else if (value === 'false' || value === '0') config.ssl = false;
        else throw bad(key, position, 'true or false');
        break;
      case 'target_session_attrs':
      case 'load_balance_hosts':
        // The connection layer's, read by the multi-host connector.
        connectLayerParameter(key, value, position);
        break;
      default:
        throw new DatabaseUrlError(
          `Unsupported query parameter ${describe(key, position)} in the database URL (supported: ${supported})`,
        );
    }
  }
  return config;
}

/** pg's own reading of sslmode: every mode that asks for SSL verifies the certificate, except no-verify. */
function sslMode(value: string, position: number): boolean | { rejectUnauthorized: false } {
  switch (value) {
    case 'disable':
      return false;
    case 'prefer':
    case 'require':
    case 'verify-ca':
    case 'verify-full':
      return true;
    case 'no-verify':
      return { rejectUnauthorized: false };
    default:
      throw bad('sslmode', position, 'disable, prefer, require, verify-ca, verify-full or no-verify');
  }
}

/** Names the parameter and its position, never its value (it may be a pasted password). */
function bad(key: string, position: number, expected: string): DatabaseUrlError {
  return new DatabaseUrlError(
    `Expected the query parameter ${describe(key, position)} of the database URL to be ${expected}`,
  );
}

function describe(key: string, position: number): string {
  return `\`${printableQueryKey(key)}\` (parameter ${position})`;
}
