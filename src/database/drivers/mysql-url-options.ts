import { printableQueryKey } from '../../connect/dsn.js';
import { DatabaseUrlError } from '../database-errors.js';
import { connectLayerParameter } from './connect-layer-parameter.js';

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
        if (!isCharset(value)) throw bad(key, position, 'a MySQL character set or collation name');
        options[key] = value;
        break;
      case 'timezone':
        if (!isTimezone(value)) throw bad(key, position, 'local, auto, Z, +HH:MM or an IANA time zone');
        options[key] = value;
        break;
      case 'ssl':
        if (value === 'true' || value === '1' || value === 'require')
          options.ssl = { rejectUnauthorized: true };
        else if (value !== 'false' && value !== '0') throw bad(key, position, 'true or false');
        break;
      case 'target_session_attrs':
      case 'load_balance_hosts':
        // The connection layer's, read by the multi-host connector.
        connectLayerParameter(key, value, position);
        break;
      default:
        throw new DatabaseUrlError(
          `Unsupported query parameter ${describe(key, position)} in the database URL (supported: flavor, charset, timezone, ssl, target_session_attrs, load_balance_hosts)`,
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

/** The character sets of MySQL 8 and MariaDB 10+; a collation name is one of them, '_', and more. */
const charsets: ReadonlySet<string> = new Set(
  (
    'armscii8 ascii big5 binary cp1250 cp1251 cp1256 cp1257 cp850 cp852 cp866 cp932 dec8 eucjpms euckr ' +
    'gb18030 gb2312 gbk geostd8 greek hebrew hp8 keybcs2 koi8r koi8u latin1 latin2 latin5 latin7 macce ' +
    'macroman sjis swe7 tis620 ucs2 ujis utf16 utf16le utf32 utf8 utf8mb3 utf8mb4'
  ).split(' '),
);

/** A known character set (utf8mb4) or a collation of one (UTF8MB4_UNICODE_CI): nothing a driver would echo. */
function isCharset(value: string): boolean {
  const lower = value.toLowerCase();
  if (!/^[a-z0-9_]{1,64}$/.test(lower)) return false;
  const underscore = lower.indexOf('_');
  return charsets.has(underscore === -1 ? lower : lower.slice(0, underscore));
}

/** local, auto, Z, +HH:MM, or an IANA zone Node knows (Europe/Paris): nothing a driver would echo. */
function isTimezone(value: string): boolean {
  if (value === 'local' || value === 'auto' || value === 'Z' || /^[+-][0-9]{2}:[0-9]{2}$/.test(value))
    return true;
  if (!/^[A-Za-z][A-Za-z0-9_+/-]{0,63}$/.test(value)) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}
