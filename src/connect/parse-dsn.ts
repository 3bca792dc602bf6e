import { DatabaseUrlError } from './database-url-error.js';
import { type Dsn, type DsnScheme, dsnSchemes, maxDsnLength, supportedDsnForms } from './dsn.js';
import { DsnText } from './dsn-text.js';
import { parseDsnAuthority } from './parse-dsn-authority.js';
import { isKeywordForm, parseDsnKeywords } from './parse-dsn-keywords.js';
import { sealDsn } from './seal-dsn.js';

/**
 * Parses a database URL in one linear pass. Errors name the bad part and its character position, never
 * the text itself (it may be a password). A password may hold an unencoded '/', '?', '#' or '@': the
 * userinfo runs to the URL's last '@'.
 * @example parseDsn('postgres://app:secret@db1:5432,db2:5433/shop').hosts // [{ host: 'db1', port: 5432 }, ...]
 */
export function parseDsn(url: string): Dsn {
  if (typeof url !== 'string') {
    const got = url === null ? 'null' : typeof url;
    throw new TypeError(`Expected a database URL (${supportedDsnForms}), got ${got}`);
  }
  if (url.length > maxDsnLength) {
    throw new DatabaseUrlError(
      `The database URL is ${url.length} characters long; the limit is ${maxDsnLength}`,
    );
  }
  const text = DsnText.trimmed(url);
  if (text.length === 0) throw new TypeError(`Expected a database URL (${supportedDsnForms}), got ""`);
  if (isKeywordForm(text)) return parseDsnKeywords(text);
  const colon = schemeEnd(text);
  const scheme = text.slice(0, colon).toLowerCase();
  if (!Object.hasOwn(dsnSchemes, scheme)) {
    // Only a scheme from our own list is named: the text before the first ':' may be a user name or a
    // password ("u:secret@host/db").
    const problem = otherSchemes.has(scheme) ? `Unsupported scheme "${scheme}:"` : 'Unknown scheme';
    throw text.fail(problem, 0, `: expected ${supportedDsnForms}`);
  }
  const known = scheme as DsnScheme;
  const { driver, backend } = dsnSchemes[known];
  if (known === 'sqlite' || known === 'pglite') {
    return sealDsn({ scheme: known, driver, backend, path: filePath(text, colon + 1, known) });
  }
  if (!text.startsWith('//', colon + 1)) {
    throw text.fail(`Expected "//" after "${known}:"`, colon + 1);
  }
  const { password, ...parts } = parseDsnAuthority(text, colon + 3);
  return sealDsn({ scheme: known, driver, backend, ...parts }, password);
}

/** Schemes of other databases and protocols, named in errors since they are ours to print. */
const otherSchemes: ReadonlySet<string> = new Set([
  'cockroachdb',
  'file',
  'http',
  'https',
  'jdbc',
  'mongodb',
  'mongodb+srv',
  'mssql',
  'mysqlx',
  'oracle',
  'redis',
  'rediss',
  'sqlserver',
  'tcp',
]);

/** The index of the ':' that ends the scheme; a URL without one fails naming what it looks like. */
function schemeEnd(text: DsnText): number {
  let index = 0;
  while (index < text.length && isSchemeChar(text.code(index), index)) index += 1;
  if (index > 0 && text.code(index) === 0x3a /* : */) {
    const next = text.code(index + 1);
    // "localhost:5432/db": a host and port, not a scheme.
    if (next >= 0x30 && next <= 0x39) throw text.fail('Missing scheme', 0, `: expected ${supportedDsnForms}`);
    return index;
  }
  throw text.fail('Missing scheme', 0, `: expected ${supportedDsnForms}`);
}

function isSchemeChar(code: number, index: number): boolean {
  const letter = (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
  if (index === 0) return letter;
  return letter || (code >= 0x30 && code <= 0x39) || code === 0x2b || code === 0x2d || code === 0x2e;
}

function filePath(text: DsnText, from: number, scheme: 'sqlite' | 'pglite'): string {
  // sqlite:///abs/file and sqlite:rel/file both work; the authority form has no host.
  const start = text.startsWith('//', from) ? from + 2 : from;
  if (start >= text.length) throw text.fail('Missing file path', start);
  // "sqlite://user:password@host/file" is a network URL's shape, not a file: refused rather than read
  // as a file name holding the password.
  if (start > from && text.code(start) !== 0x2f /* / */) {
    const at = text.find('@', start);
    if (at < text.length) {
      throw text.fail(
        `A user or password in a ${scheme}: URL`,
        start,
        `: ${scheme}: takes a file path (${scheme}:PATH or ${scheme}:///ABSOLUTE/PATH), no credentials`,
      );
    }
  }
  const path = text.decode(start, text.length, 'file path');
  if (path === ':memory:' || path === 'memory' || path === ':memory') {
    return scheme === 'sqlite' ? ':memory:' : 'memory';
  }
  return path;
}
