import type { Backend } from '../core/classification.js';

/** The Node drivers createDatabase can load, by npm package name. */
export type DriverName = 'pg' | 'mysql2' | 'mariadb' | 'better-sqlite3' | '@electric-sql/pglite';

/** The URL schemes dbop reads. */
export type DsnScheme = 'postgres' | 'postgresql' | 'mysql' | 'mariadb' | 'sqlite' | 'pglite';

/** One host of a network URL; `port` is absent when the URL gave none (the driver's default applies). */
export interface DsnHost {
  readonly host: string;
  readonly port?: number;
}

/**
 * A parsed database URL: the driver to load and how to reach the database. Frozen; `password` is not an
 * own enumerable property, so JSON, util.inspect and logs never show it; `redacted` is the URL to print.
 */
export interface Dsn {
  readonly scheme: DsnScheme;
  readonly driver: DriverName;
  readonly backend: Backend;
  /** Network URLs only, in the URL's order (several for a multi-host URL). */
  readonly hosts?: readonly DsnHost[];
  readonly user?: string;
  /** Never print it: a getter, so JSON, util.inspect and object spread do not see it. */
  readonly password?: string | undefined;
  readonly database?: string;
  /** Network URLs only: the query parameters, decoded; password parameters are refused at parse time. */
  readonly query?: Readonly<Record<string, string>>;
  /** sqlite: and pglite: only: a file path, ':memory:' (sqlite) or 'memory' (pglite). */
  readonly path?: string;
  /** The URL formatted from its parts with the password replaced by `***`. */
  readonly redacted: string;
}

/** Each scheme's driver and backend. */
export const dsnSchemes: Readonly<
  Record<DsnScheme, { readonly driver: DriverName; readonly backend: Backend }>
> = Object.freeze({
  postgres: { driver: 'pg', backend: 'postgres' },
  postgresql: { driver: 'pg', backend: 'postgres' },
  mysql: { driver: 'mysql2', backend: 'mysql' },
  mariadb: { driver: 'mariadb', backend: 'mariadb' },
  sqlite: { driver: 'better-sqlite3', backend: 'sqlite' },
  pglite: { driver: '@electric-sql/pglite', backend: 'postgres' },
});

/** The longest database URL dbop reads, in characters. */
export const maxDsnLength = 8192;

/** The forms dbop accepts, for error messages. */
export const supportedDsnForms =
  'postgres://, postgresql://, mysql://, mariadb://, sqlite:PATH, pglite:PATH or pglite:memory';

/** True for a name that holds a secret (password, pass, pwd, pw, secret, token, key), decoded fully first. */
export function isSecretParameter(name: string): boolean {
  const decoded = decodeFully(name);
  return decoded === undefined || /pass|pwd|pw$|secret|token|key/i.test(decoded);
}

/**
 * `text` percent-decoded byte by byte (with '+' as a space) until it no longer changes, so `%2570assword`
 * reads as `password`; undefined when it is still encoded after four rounds (callers treat it as a secret).
 */
export function decodeFully(text: string): string | undefined {
  let current = text.replaceAll('+', ' ');
  for (let round = 0; round < 4; round += 1) {
    const next = current.replace(/%([0-9a-f]{2})/gi, (_, hex: string) =>
      String.fromCharCode(Number.parseInt(hex, 16)),
    );
    if (next === current) return current;
    current = next;
  }
  return /%[0-9a-f]{2}/i.test(current) ? undefined : current;
}

/** Typed query values safe to print, by parameter name; every other value prints as `***`. */
const printableValues: Readonly<Record<string, ReadonlySet<string>>> = {
  ssl: new Set(['true', 'false', '1', '0', 'require']),
  sslmode: new Set(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify']),
  flavor: new Set(['mysql', 'mariadb']),
  pgbouncer: new Set(['true', 'false']),
  target_session_attrs: new Set(['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby']),
};

/** The query value as a printed URL shows it: known-safe typed values and short numbers, else `***`. */
export function printableQueryValue(key: string, value: string): string {
  if (Object.hasOwn(printableValues, key) && printableValues[key]?.has(value)) return value;
  return /^[0-9]{1,9}$/.test(value) ? value : '***';
}

/** The query parameter name as a printed URL shows it: plain names only, else `***`. */
export function printableQueryKey(key: string): string {
  return /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(key) ? key : '***';
}

/**
 * Query parameters whose value is a name or an enum handed to the driver: one holding ';', '&' or '='
 * (after decoding) is a pasted connection string, likely with a password, and is refused.
 */
export const typedQueryParameters: ReadonlySet<string> = new Set([
  'ssl',
  'sslmode',
  'flavor',
  'target_session_attrs',
  'charset',
  'timezone',
]);
