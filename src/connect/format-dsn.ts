import { type Dsn, printableQueryKey, printableQueryValue } from './dsn.js';

/** The parts formatDsnParts reads. */
type Formattable = Pick<Dsn, 'scheme' | 'hosts' | 'user' | 'database' | 'query' | 'path'>;

/**
 * Formats a parsed URL back into one that parses to the same parts, password included: hand it only to
 * code that needs the secret. To print a URL, use {@link redactDsn} or `dsn.redacted`.
 * @example formatDsn(parseDsn('postgres://app:p%40ss@db/shop')) // 'postgres://app:p%40ss@db/shop'
 */
export function formatDsn(dsn: Dsn): string {
  return formatDsnParts(dsn, dsn.password, false);
}

/**
 * Formats the parts with `password` in the userinfo (the real one, `***`, or none). `printable` masks
 * every query value not known to be safe (and odd parameter names) as `***`: the form to print.
 */
export function formatDsnParts(dsn: Formattable, password: string | undefined, printable: boolean): string {
  if (dsn.path !== undefined) {
    const path = dsn.path.replaceAll('%', '%25');
    return `${dsn.scheme}:${path.startsWith('//') ? `//${path}` : path}`;
  }
  let url = `${dsn.scheme}://`;
  if (dsn.user !== undefined || password !== undefined) {
    url += encode(dsn.user ?? '');
    if (password !== undefined) url += `:${encode(password)}`;
    url += '@';
  }
  url += (dsn.hosts ?? []).map(formatHost).join(',');
  if (dsn.database !== undefined) url += `/${encode(dsn.database)}`;
  const query = Object.entries(dsn.query ?? {});
  if (query.length > 0) {
    if (dsn.database === undefined) url += '/';
    const pairs = printable
      ? query.map(([key, value]) => `${printableQueryKey(key)}=${printableQueryValue(key, value)}`)
      : query.map(([key, value]) => `${encode(key)}=${encode(value)}`);
    url += `?${pairs.join('&')}`;
  }
  return url;
}

function formatHost(host: { readonly host: string; readonly port?: number }): string {
  // The parser takes a host of unreserved characters and percent-escapes only: !'()* are escaped too.
  const name = host.host.includes(':')
    ? `[${host.host}]`
    : encode(host.host).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
  return host.port === undefined ? name : `${name}:${host.port}`;
}

/** encodeURIComponent, with a TypeError that does not quote the text (it may be a password). */
function encode(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    throw new TypeError(
      'Expected the parts of a database URL to be well-formed strings (an unpaired surrogate)',
    );
  }
}
