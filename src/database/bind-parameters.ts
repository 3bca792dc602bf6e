import { ParameterError } from './database-errors.js';

/** How a driver spells placeholders and which quoting rules its SQL has. */
export type ParameterDialect = 'postgres' | 'mysql' | 'sqlite';

/** Named values (`:name` in the SQL), positional values in the driver's own placeholder style, or none. */
export type SqlParameters = Readonly<Record<string, unknown>> | readonly unknown[] | undefined;

/** SQL and values ready for the driver. */
export interface BoundStatement {
  readonly sql: string;
  readonly values: readonly unknown[];
}

/** A piece of SQL: text to copy as is, or a placeholder. */
interface Token {
  readonly type: 'text' | 'named' | 'positional';
  /** The SQL text; for a named placeholder, ':name'. */
  readonly text: string;
}

/**
 * Translates `:name` parameters to the driver's placeholders ($1 for postgres, ? for mysql and sqlite)
 * and returns the values in order. String literals, quoted identifiers, comments, `::casts` and
 * postgres dollar-quoted strings are left alone. Positional values (an array) pass through unchanged.
 * @example bindParameters('SELECT :id::int', { id: 7 }, 'postgres') // { sql: 'SELECT $1::int', values: [7] }
 */
export function bindParameters(
  sql: string,
  params: SqlParameters,
  dialect: ParameterDialect,
): BoundStatement {
  const { tokens, named, positional } = tokenize(sql, dialect);
  if (params === undefined || Array.isArray(params)) {
    if (named === undefined) return { sql, values: params ?? [] };
    if (params !== undefined && params.length > 0) {
      throw new ParameterError(
        `The SQL uses named parameter :${named.text.slice(1)} but positional values were given`,
      );
    }
    throw new ParameterError(`Missing value for named parameter ${named.text}`);
  }
  if (typeof params !== 'object' || params === null) {
    throw new TypeError(`Expected parameters to be an object or an array, got ${typeof params}`);
  }
  if (positional !== undefined) {
    throw new ParameterError(
      named === undefined
        ? `The SQL uses positional placeholder ${positional.text} but named values were given`
        : `The SQL mixes named (${named.text}) and positional (${positional.text}) placeholders; use one style`,
    );
  }
  return render(tokens, params as Readonly<Record<string, unknown>>, dialect);
}

/** True when the SQL has a `:name` placeholder (outside literals, identifiers, comments and `::casts`). */
export function usesNamedParameters(sql: string, dialect: ParameterDialect): boolean {
  return tokenize(sql, dialect).named !== undefined;
}

function render(
  tokens: readonly Token[],
  params: Readonly<Record<string, unknown>>,
  dialect: ParameterDialect,
): BoundStatement {
  const values: unknown[] = [];
  const numbers = new Map<string, number>();
  let out = '';
  for (const token of tokens) {
    if (token.type !== 'named') {
      out += token.text;
      continue;
    }
    const name = token.text.slice(1);
    if (!Object.hasOwn(params, name)) {
      throw new ParameterError(`Missing value for named parameter ${token.text}`);
    }
    if (dialect !== 'postgres') {
      values.push(params[name]);
      out += '?';
      continue;
    }
    let number = numbers.get(name);
    if (number === undefined) {
      values.push(params[name]);
      number = values.length;
      numbers.set(name, number);
    }
    out += `$${number}`;
  }
  return { sql: out, values };
}

const identifierStart = /[A-Za-z_]/;
// `$` also continues a postgres identifier (a$b), but after a closing `$$` it starts the next token.
const identifierPart = /[A-Za-z0-9_]/;

/** A statement's tokens, with its first named and first positional placeholder (what bindParameters checks). */
interface ScannedSql {
  readonly tokens: readonly Token[];
  readonly named: Token | undefined;
  readonly positional: Token | undefined;
}

// Applications send the same few statements over and over: their tokens are kept (short SQL only, the
// oldest dropped first), so a statement is not parsed, nor its placeholders looked for, at every call.
const tokenCache: Record<ParameterDialect, Map<string, ScannedSql>> = {
  postgres: new Map(),
  mysql: new Map(),
  sqlite: new Map(),
};
const tokenCacheSize = 500;
const cachedSqlLength = 4096;

function tokenize(sql: string, dialect: ParameterDialect): ScannedSql {
  const cache = tokenCache[dialect];
  let scanned = cache.get(sql);
  if (scanned === undefined) {
    const tokens = Object.freeze(scan(sql, dialect));
    scanned = {
      tokens,
      named: tokens.find((token) => token.type === 'named'),
      positional: tokens.find((token) => token.type === 'positional'),
    };
    if (sql.length <= cachedSqlLength) {
      if (cache.size >= tokenCacheSize) cache.delete(cache.keys().next().value!);
      cache.set(sql, scanned);
    }
  }
  return scanned;
}

/** Splits SQL into text and placeholders, skipping everything where a colon or ? is not a placeholder. */
function scan(sql: string, dialect: ParameterDialect): Token[] {
  const tokens: Token[] = [];
  let textStart = 0;
  let i = 0;
  const flush = (end: number): void => {
    if (end > textStart) tokens.push({ type: 'text', text: sql.slice(textStart, end) });
  };
  while (i < sql.length) {
    const char = sql[i]!;
    const next = sql[i + 1];
    if (char === "'") {
      i = skipQuoted(sql, i, "'", backslashEscapes(sql, i, dialect));
    } else if (char === '"') {
      i = skipQuoted(sql, i, '"', dialect === 'mysql');
    } else if (char === '`' && dialect !== 'postgres') {
      i = skipQuoted(sql, i, '`', false);
    } else if (char === '-' && next === '-') {
      i = skipLine(sql, i);
    } else if (char === '#' && dialect === 'mysql') {
      i = skipLine(sql, i);
    } else if (char === '/' && next === '*') {
      i = skipBlockComment(sql, i, dialect === 'postgres');
    } else if (char === '$' && dialect === 'postgres' && !precededByIdentifier(sql, i)) {
      const end = skipDollar(sql, i);
      if (end === i) {
        const digits = /^\$\d+/.exec(sql.slice(i));
        if (digits !== null) {
          flush(i);
          tokens.push({ type: 'positional', text: digits[0] });
          i += digits[0].length;
          textStart = i;
        } else {
          i += 1;
        }
      } else {
        i = end;
      }
    } else if (char === '?' && dialect !== 'postgres') {
      flush(i);
      const digits = /^\?\d*/.exec(sql.slice(i))![0];
      tokens.push({ type: 'positional', text: digits });
      i += digits.length;
      textStart = i;
    } else if (char === ':' && next === ':') {
      i += 2; // a ::cast, never a parameter
    } else if (char === ':' && next !== undefined && identifierStart.test(next) && sql[i - 1] !== ':') {
      flush(i);
      let end = i + 2;
      while (end < sql.length && /[A-Za-z0-9_]/.test(sql[end]!)) end += 1;
      tokens.push({ type: 'named', text: sql.slice(i, end) });
      i = end;
      textStart = i;
    } else {
      i += 1;
    }
  }
  flush(sql.length);
  return tokens;
}

/** MySQL strings take backslash escapes; postgres only in E'...' strings; SQLite never. */
export function backslashEscapes(sql: string, quote: number, dialect: ParameterDialect): boolean {
  if (dialect === 'mysql') return true;
  if (dialect === 'sqlite') return false;
  const prefix = sql[quote - 1];
  return (prefix === 'E' || prefix === 'e') && !precededByIdentifier(sql, quote - 1);
}

export function skipQuoted(sql: string, start: number, quote: string, backslash: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    const char = sql[i]!;
    if (backslash && char === '\\') {
      i += 2;
    } else if (char === quote) {
      if (sql[i + 1] !== quote) return i + 1;
      i += 2; // a doubled quote is an escaped quote
    } else {
      i += 1;
    }
  }
  return sql.length; // unterminated: the server will say so
}

export function skipLine(sql: string, start: number): number {
  const end = sql.indexOf('\n', start);
  return end === -1 ? sql.length : end + 1;
}

/** Postgres block comments nest; MySQL and SQLite ones end at the first close. */
export function skipBlockComment(sql: string, start: number, nested: boolean): number {
  let depth = 1;
  let i = start + 2;
  while (i < sql.length) {
    if (nested && sql[i] === '/' && sql[i + 1] === '*') {
      depth += 1;
      i += 2;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth -= 1;
      i += 2;
      if (depth === 0) return i;
    } else {
      i += 1;
    }
  }
  return sql.length;
}

/** Returns the end of a $tag$...$tag$ string starting at `start`, or `start` when there is none. */
export function skipDollar(sql: string, start: number): number {
  const open = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(start));
  if (open === null) return start;
  const close = sql.indexOf(open[0], start + open[0].length);
  return close === -1 ? sql.length : close + open[0].length;
}

function precededByIdentifier(sql: string, index: number): boolean {
  return index > 0 && identifierPart.test(sql[index - 1]!);
}
