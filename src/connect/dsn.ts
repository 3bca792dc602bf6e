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

/** True for a query parameter name that holds a secret (password, pass, pwd, sslpassword, ...). */
export function isSecretParameter(name: string): boolean {
  const lower = name.toLowerCase();
  return lower.includes('pass') || lower === 'pwd' || lower.includes('secret');
}
