import { printableQueryKey } from '../../connect/dsn.js';
import { DatabaseUrlError } from '../database-errors.js';

/**
 * The URL query parameters a mysql: or mariadb: URL may carry, typed for both drivers. Anything else is
 * refused rather than handed to the driver as a string: `?ssl=true` would be a bogus SSL profile name in
 * mysql2, and `?multipleStatements=true` would turn off the drivers' guard against stacked-statement
 * injection from a configuration value. Values are checked here, before a driver can echo them in an
 * error ("Unknown charset '...'"); errors name the parameter and its position, never its value.
 */
export function mysqlUrlOptions(query: Readonly<Record<string, string>>): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  let position = 0;
  for (const [key, value] of Object.entries(query)) {
    position += 1;
    switch (key) {
      case 'charset':
        // A character set or collation name: utf8mb4, latin1, UTF8MB4_UNICODE_CI.
        if (!/^[A-Za-z0-9_]{1,64}$/.test(value)) throw bad(key, position, 'a character set name');
        options[key] = value;
        break;
      case 'timezone':
        // local, Z, +HH:MM, or an IANA name (mariadb): Europe/Paris.
        if (!/^[A-Za-z0-9_+:/-]{1,64}$/.test(value))
          throw bad(key, position, 'local, Z, +HH:MM or a zone name');
        options[key] = value;
        break;
      case 'ssl':
        if (value === 'true' || value === '1' || value === 'require')
          options.ssl = { rejectUnauthorized: true };
        else if (value !== 'false' && value !== '0') throw bad(key, position, 'true or false');
        break;
      default:
        throw new DatabaseUrlError(
          `Unsupported query parameter ${describe(key, position)} in the database URL (supported: flavor, charset, timezone, ssl)`,
        );
    }
  }
  return options;
}

function bad(key: string, position: number, expected: string): DatabaseUrlError {
  return new DatabaseUrlError(
    `Expected the query parameter ${describe(key, position)} of the database URL to be ${expected}`,
  );
}

function describe(key: string, position: number): string {
  return `\`${printableQueryKey(key)}\` (parameter ${position})`;
}
