import { DatabaseUrlError } from '../database-errors.js';

/**
 * The URL query parameters a mysql: or mariadb: URL may carry, typed for both drivers. Anything else is
 * refused rather than handed to the driver as a string: `?ssl=true` would be a bogus SSL profile name in
 * mysql2, and `?multipleStatements=true` would turn off the drivers' guard against stacked-statement
 * injection from a configuration value.
 */
export function mysqlUrlOptions(
  query: Readonly<Record<string, string>>,
  redacted: string,
): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(query)) {
    switch (key) {
      case 'charset':
      case 'timezone':
        options[key] = value;
        break;
      case 'ssl':
        if (value === 'true' || value === '1' || value === 'require')
          options.ssl = { rejectUnauthorized: true };
        else if (value !== 'false' && value !== '0') throw bad(key, value, 'true or false', redacted);
        break;
      default:
        throw new DatabaseUrlError(
          `Unsupported parameter \`${key}\` in database URL "${redacted}" (supported: flavor, charset, timezone, ssl)`,
        );
    }
  }
  return options;
}

function bad(key: string, value: string, expected: string, redacted: string): DatabaseUrlError {
  return new DatabaseUrlError(
    `Expected \`${key}\` in database URL "${redacted}" to be ${expected}, got ${JSON.stringify(value)}`,
  );
}
