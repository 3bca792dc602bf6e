import type { Dsn, DsnHost } from './dsn.js';
import type { DsnText } from './dsn-text.js';
import { sealDsn } from './seal-dsn.js';

/** Keywords of libpq's `key=value` form that name a connection part; the rest become query parameters. */
const queryKeywords: ReadonlySet<string> = new Set([
  'sslmode',
  'application_name',
  'options',
  'target_session_attrs',
  'load_balance_hosts',
]);
const partKeywords: ReadonlySet<string> = new Set(['host', 'hostaddr', 'port', 'dbname', 'user', 'password']);

/** True when the text starts like libpq's keyword/value form (`host=...`), not like a URL. */
export function isKeywordForm(text: DsnText): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*[ \t]*=/.test(text.slice(0, 70));
}

/**
 * libpq's keyword/value connection string, `host=db1,db2 port=5432,5433 dbname=shop user=app`: values
 * unquoted (no spaces, `\` escapes) or single-quoted (`\'` and `\\` inside); several hosts with one port
 * each, or one port for all. Postgres only. Errors name the keyword and its position, never a value.
 */
export function parseDsnKeywords(text: DsnText): Dsn {
  const values = new Map<string, string>();
  let index = 0;
  const skipSpaces = (): void => {
    while (index < text.length && (text.code(index) === 0x20 || text.code(index) === 0x09)) index += 1;
  };
  for (skipSpaces(); index < text.length; skipSpaces()) {
    const keyStart = index;
    while (index < text.length && /[A-Za-z0-9_]/.test(text.slice(index, index + 1))) index += 1;
    const key = text.slice(keyStart, index);
    skipSpaces();
    if (key === '' || text.code(index) !== 0x3d /* = */) {
      throw text.fail('Expected keyword=value', keyStart, ' (libpq keyword form)');
    }
    if (!partKeywords.has(key) && !queryKeywords.has(key)) {
      // Not named: text before an '=' may be a pasted secret.
      throw text.fail(
        'An unsupported keyword',
        keyStart,
        ` (supported: ${[...partKeywords, ...queryKeywords].join(', ')})`,
      );
    }
    if (values.has(key)) throw text.fail(`Keyword "${key}" given twice`, keyStart);
    index += 1;
    skipSpaces();
    values.set(
      key,
      readValue(text, index, key, (end) => (index = end)),
    );
  }
  const password = values.get('password');
  const names = (values.get('host') ?? values.get('hostaddr') ?? 'localhost').split(',');
  const ports = (values.get('port') ?? '').split(',');
  if (ports.length !== 1 && ports.length !== names.length) {
    throw text.fail(
      `${names.length} hosts but ${ports.length} ports`,
      0,
      ': give one port for all or one per host',
    );
  }
  const hosts: DsnHost[] = names.map((name, i) => {
    if (name === '') throw text.fail('An empty host in `host`', 0);
    const port = ports.length === 1 ? ports[0]! : ports[i]!;
    if (port === '') return { host: name };
    const number = Number(port);
    if (!/^[0-9]{1,5}$/.test(port) || number < 1 || number > 65_535) {
      throw text.fail(`A bad port (host ${i + 1})`, 0, ': expected 1 to 65535');
    }
    return { host: name, port: number };
  });
  const query: Record<string, string> = {};
  for (const [key, value] of values) if (queryKeywords.has(key)) query[key] = value;
  const user = values.get('user');
  const database = values.get('dbname');
  return sealDsn(
    {
      scheme: 'postgres',
      driver: 'pg',
      backend: 'postgres',
      hosts,
      ...(user === undefined ? {} : { user }),
      ...(database === undefined ? {} : { database }),
      ...(Object.keys(query).length === 0 ? {} : { query }),
    },
    password,
  );
}

/** One value from `start`: quoted or bare, escapes resolved; `done` gets the index after it. */
function readValue(text: DsnText, start: number, key: string, done: (end: number) => void): string {
  let value = '';
  let index = start;
  const quoted = text.code(index) === 0x27; /* ' */
  if (quoted) index += 1;
  for (;;) {
    if (index >= text.length) {
      if (quoted) throw text.fail(`An unterminated quoted value for "${key}"`, start);
      break;
    }
    const code = text.code(index);
    if (quoted ? code === 0x27 : code === 0x20 || code === 0x09) {
      if (quoted) index += 1;
      break;
    }
    if (code === 0x5c /* \ */ && index + 1 < text.length) index += 1;
    value += text.slice(index, index + 1);
    index += 1;
  }
  done(index);
  return value;
}
