import type { DsnHost } from './dsn.js';
import { decodeFully, isSecretParameter, typedQueryParameters } from './dsn.js';
import type { DsnText } from './dsn-text.js';

/** What follows "scheme://": userinfo, hosts, database and query. */
export interface DsnAuthority {
  user?: string;
  password?: string;
  hosts: DsnHost[];
  database?: string;
  query: Record<string, string>;
}

/** Reads `user:password@host1:port1,host2/database?key=value` from `from` to the end of `text`. */
export function parseDsnAuthority(text: DsnText, from: number): DsnAuthority {
  // The userinfo ends at the LAST '@': a password with an unencoded '/', '?', '#' or '@' must not spill
  // into the host, port or path (and from there into an error message). A user name with an unencoded
  // '/', '?' or '#' is refused rather than guessed at: it is as likely an '@' in the path or query.
  const at = text.findLast('@', from);
  const colon = text.find(':', from, Math.max(at, from));
  const unencoded = at === -1 ? colon : text.find('/?#', from, colon);
  if (unencoded < colon) {
    throw text.fail(
      'An unencoded "/", "?" or "#" in the user name, or an unencoded "@" after the host,',
      unencoded,
      ': percent-encode it (%2F, %3F, %23, %40)',
    );
  }
  const result: DsnAuthority = { hosts: [], query: Object.create(null) as Record<string, string> };
  if (at !== -1) {
    if (colon > from) result.user = text.decode(from, colon, 'user name');
    if (colon < at - 1) result.password = text.decode(colon + 1, at, 'password');
  }
  const hostsStart = at === -1 ? from : at + 1;
  const hostsEnd = text.find('/?#', hostsStart);
  readHosts(text, hostsStart, hostsEnd, result.hosts);
  const fragment = text.find('#', hostsEnd);
  const queryStart = text.find('?', hostsEnd, fragment);
  if (text.code(hostsEnd) === 0x2f /* / */ && queryStart > hostsEnd + 1) {
    result.database = text.decode(hostsEnd + 1, queryStart, 'database name');
  }
  if (queryStart < fragment) readQuery(text, queryStart + 1, fragment, result.query);
  return result;
}

function readHosts(text: DsnText, from: number, to: number, hosts: DsnHost[]): void {
  let start = from;
  for (;;) {
    const end = text.find(',', start, to);
    hosts.push(readHost(text, start, end));
    if (end === to) return;
    start = end + 1;
  }
}

function readHost(text: DsnText, from: number, to: number): DsnHost {
  if (from === to) throw text.fail('Missing host', from);
  let nameEnd: number;
  let host: string;
  if (text.code(from) === 0x5b /* [ */) {
    nameEnd = text.find(']', from, to);
    if (nameEnd === to || nameEnd === from + 1) throw text.fail('Invalid IPv6 host', from);
    for (let index = from + 1; index < nameEnd; index += 1) {
      if (!isIpv6Char(text.code(index))) throw text.fail('Invalid character in the IPv6 host', index);
    }
    host = text.slice(from + 1, nameEnd);
    nameEnd += 1;
    if (nameEnd < to && text.code(nameEnd) !== 0x3a) throw text.fail('Invalid IPv6 host', from);
  } else {
    nameEnd = text.find(':', from, to);
    if (nameEnd === from) throw text.fail('Missing host', from);
    for (let index = from; index < nameEnd; index += 1) {
      if (!isHostChar(text.code(index))) throw text.fail('Invalid character in the host', index);
    }
    // A percent-encoded host is a Unix socket directory (postgres://%2Fvar%2Frun%2Fpostgresql/db).
    host = text.decode(from, nameEnd, 'host');
  }
  if (nameEnd >= to - 1) return { host };
  const port = readPort(text, nameEnd + 1, to);
  return { host, port };
}

function readPort(text: DsnText, from: number, to: number): number {
  let port = 0;
  for (let index = from; index < to; index += 1) {
    const code = text.code(index);
    if (code < 0x30 || code > 0x39 || index - from >= 5) {
      throw text.fail('Invalid port', from, ': expected a number from 1 to 65535');
    }
    port = port * 10 + (code - 0x30);
  }
  if (port < 1 || port > 65535) throw text.fail('Invalid port', from, ': expected a number from 1 to 65535');
  return port;
}

function readQuery(text: DsnText, from: number, to: number, query: Record<string, string>): void {
  let start = from;
  while (start < to) {
    const end = text.find('&', start, to);
    if (end > start) {
      const equals = text.find('=', start, end);
      const key = text.decode(start, equals, 'name of the query parameter', true);
      if (isSecretParameter(key)) {
        throw text.fail(
          'A password in a query parameter',
          start,
          ' is refused: put it in the user information (scheme://user:password@host)',
        );
      }
      if (key === '') throw text.fail('A query parameter without a name', start);
      const value = equals === end ? '' : text.decode(equals + 1, end, 'value of a query parameter', true);
      if (typedQueryParameters.has(key) && /[;&=]/.test(decodeFully(value) ?? '=')) {
        throw text.fail(
          `A ';', '&' or '=' in the value of the \`${key}\` query parameter`,
          equals + 1,
          ' is refused: it looks like a connection string, which may hold a password',
        );
      }
      query[key] = value;
    }
    start = end + 1;
  }
}

function isHostChar(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x2d || // -
    code === 0x2e || // .
    code === 0x5f || // _
    code === 0x7e || // ~
    code === 0x25 || // % (percent-encoding)
    code > 0x7f // internationalised names
  );
}

function isIpv6Char(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x3a) ||
    (code >= 0x61 && code <= 0x66) ||
    (code >= 0x41 && code <= 0x46) ||
    code === 0x2e
  );
}
