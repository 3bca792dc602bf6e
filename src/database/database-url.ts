import type { Backend } from '../core/classification.js';
import { DatabaseUrlError } from './database-errors.js';
import { redactUrl } from './redact-url.js';

/** The Node drivers createDatabase can load, by npm package name. */
export type DriverName = 'pg' | 'mysql2' | 'mariadb' | 'better-sqlite3' | '@electric-sql/pglite';

/** One host of a network URL. */
export interface DatabaseHost {
  readonly host: string;
  readonly port?: number;
}

/** What a database URL names: the driver to load and how to reach the database. Frozen. */
export interface DatabaseTarget {
  readonly driver: DriverName;
  readonly backend: Backend;
  /** The URL as given; holds the password, so never print it: use `redacted`. */
  readonly url: string;
  readonly redacted: string;
  /** Network URLs only. */
  readonly hosts?: readonly DatabaseHost[];
  readonly user?: string;
  readonly password?: string;
  readonly database?: string;
  readonly query?: Readonly<Record<string, string>>;
  /** sqlite: and pglite: only: a file path, ':memory:' (sqlite) or 'memory' (pglite). */
  readonly path?: string;
}

const networkSchemes: Readonly<Record<string, { driver: DriverName; backend: Backend }>> = {
  postgres: { driver: 'pg', backend: 'postgres' },
  postgresql: { driver: 'pg', backend: 'postgres' },
  mysql: { driver: 'mysql2', backend: 'mysql' },
  mariadb: { driver: 'mariadb', backend: 'mariadb' },
};

const supported =
  'postgres://, postgresql://, mysql://, mariadb://, sqlite:PATH, pglite:PATH or pglite:memory';

/**
 * Parses a database URL into a {@link DatabaseTarget}. Errors name the bad part and never show the password.
 * @example parseDatabaseUrl('postgres://app:secret@db.internal:5432/shop').hosts // [{ host: 'db.internal', port: 5432 }]
 */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  if (typeof url !== 'string' || url.trim() === '') {
    throw new TypeError(`Expected a database URL (${supported}), got ${describe(url)}`);
  }
  const redacted = redactUrl(url);
  const match = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  if (match === null) {
    throw new DatabaseUrlError(`Missing scheme in database URL "${redacted}": expected ${supported}`);
  }
  const scheme = match[1]!.toLowerCase();
  const rest = url.slice(match[0].length);
  if (scheme === 'sqlite') {
    return seal(
      { driver: 'better-sqlite3', backend: 'sqlite', redacted, path: filePath(rest, redacted, ':memory:') },
      url,
    );
  }
  if (scheme === 'pglite') {
    return seal(
      {
        driver: '@electric-sql/pglite',
        backend: 'postgres',
        redacted,
        path: filePath(rest, redacted, 'memory'),
      },
      url,
    );
  }
  const network = networkSchemes[scheme];
  if (network === undefined) {
    throw new DatabaseUrlError(
      `Unknown scheme "${scheme}:" in database URL "${redacted}": expected ${supported}`,
    );
  }
  if (!rest.startsWith('//')) {
    throw new DatabaseUrlError(`Expected "//" after "${scheme}:" in database URL "${redacted}"`);
  }
  const { password, ...authority } = parseAuthority(rest.slice(2), redacted);
  return seal({ ...network, redacted, ...authority }, url, password);
}

/** Secrets go on as non-enumerable properties, so they never print in logs, inspect() or JSON. */
function seal(
  target: Omit<DatabaseTarget, 'url' | 'password'>,
  url: string,
  password?: string,
): DatabaseTarget {
  Object.defineProperty(target, 'url', { value: url, enumerable: false });
  if (password !== undefined)
    Object.defineProperty(target, 'password', { value: password, enumerable: false });
  return Object.freeze(target as DatabaseTarget);
}

function filePath(rest: string, redacted: string, memory: string): string {
  // sqlite:///abs/file and sqlite:rel/file both work; the authority form has no host.
  const path = rest.startsWith('//') ? rest.slice(2) : rest;
  if (path === '') throw new DatabaseUrlError(`Missing file path in database URL "${redacted}"`);
  if (path === ':memory:' || path === 'memory' || path === ':memory') return memory;
  return decodeURIComponent(path);
}

interface Authority {
  hosts: DatabaseHost[];
  user?: string;
  password?: string;
  database?: string;
  query: Record<string, string>;
}

function parseAuthority(text: string, redacted: string): Authority {
  // The userinfo ends at the LAST '@': a password with an unencoded '/', '?', '#' or '@' must not spill
  // into the host, port or path (and from there into an error message).
  const at = text.lastIndexOf('@');
  const afterUser = text.slice(at + 1);
  const end = afterUser.search(/[/?#]/);
  const authority = end === -1 ? text : text.slice(0, at + 1 + end);
  const tail = end === -1 ? '' : afterUser.slice(end);
  const result: Authority = { hosts: [], query: {} };
  if (at !== -1) {
    const userinfo = text.slice(0, at);
    const colon = userinfo.indexOf(':');
    result.user = decode(colon === -1 ? userinfo : userinfo.slice(0, colon), 'user name', redacted);
    if (colon !== -1) result.password = decode(userinfo.slice(colon + 1), 'password', redacted);
  }
  const hostList = authority.slice(at + 1);
  if (hostList === '') throw new DatabaseUrlError(`Missing host in database URL "${redacted}"`);
  for (const entry of hostList.split(',')) result.hosts.push(parseHost(entry, redacted));
  const [pathPart = '', queryPart = ''] = tail.replace(/#.*$/, '').split('?', 2);
  const database = pathPart.replace(/^\//, '');
  if (database !== '') result.database = decode(database, 'database name', redacted);
  for (const [key, value] of new URLSearchParams(queryPart)) result.query[key] = value;
  return result;
}

function parseHost(entry: string, redacted: string): DatabaseHost {
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]*)(?::(.*))?$/i.exec(entry);
  if (match === null || match[1] === '') {
    throw new DatabaseUrlError(`Invalid host "${entry}" in database URL "${redacted}"`);
  }
  const host = match[1]!.replace(/^\[|\]$/g, '');
  if (match[2] === undefined || match[2] === '') return { host };
  const port = Number(match[2]);
  if (!/^\d+$/.test(match[2]) || port < 1 || port > 65535) {
    throw new DatabaseUrlError(`Invalid port "${match[2]}" in database URL "${redacted}": expected 1-65535`);
  }
  return { host, port };
}

function decode(text: string, part: string, redacted: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // Never echo the raw text: it may be the password.
    throw new DatabaseUrlError(`Invalid percent-encoding in the ${part} of database URL "${redacted}"`);
  }
}

function describe(value: unknown): string {
  return typeof value === 'string' ? '""' : String(value === null ? 'null' : typeof value);
}
