import type { OrmQueryResult, OrmRun } from '../shared/orm-connection-session.js';
import type { KnexClientLike, KnexQueryObject } from './knex-types.js';

/**
 * Runs dbop's own statements through Knex's client on one connection, so Knex's 'query' event (and
 * so its log) sees them. Postgres placeholders ($1) become Knex's (?), which Knex turns back.
 */
export function knexRun(client: KnexClientLike, connection: () => unknown): OrmRun {
  return async (sql, params) => {
    let text = sql;
    let bindings = [...params];
    if (client.dialect === 'postgresql') {
      // Knex binds '?' in order; $n may repeat or come out of order ($2, $1, $2), so bind per occurrence.
      bindings = [];
      text = sql.replace(/\$(\d+)/g, (_, n: string) => {
        bindings.push(params[Number(n) - 1]);
        return '?';
      });
    }
    const query: KnexQueryObject = { sql: text, bindings, method: 'raw' };
    try {
      return shapeResponse((await client.query(connection(), query)).response);
    } catch (error) {
      // Knex put the SQL in front of the driver's message: "BEGIN - Connection terminated unexpectedly"
      // (no code) would classify as unknown, and a lost connection at BEGIN would not be retried.
      restoreDriverMessage(error, query, client);
      throw error;
    }
  };
}

/** The driver's response, as Knex keeps it for a raw query, in dbop's shape. */
export function shapeResponse(response: unknown): OrmQueryResult {
  // mysql2: [rows or a result header, fields].
  const value =
    Array.isArray(response) && response.length === 2 && !isRow(response[0]) ? response[0] : response;
  if (Array.isArray(value)) return { rows: value as Record<string, unknown>[], rowCount: value.length };
  const result = value as {
    rows?: Record<string, unknown>[];
    rowCount?: number | null;
    command?: string;
    affectedRows?: number;
    changes?: number;
  } | null;
  const rows = result?.rows ?? [];
  const rowCount = result?.rowCount ?? result?.affectedRows ?? result?.changes ?? rows.length;
  return { rows, rowCount, command: result?.command, original: response };
}

function isRow(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !('affectedRows' in value);
}

/**
 * Knex prefixes a failed query's driver error message with the SQL, values inlined. dbop's logs and the
 * error the caller sees carry the driver's own message: the prefix Knex added is taken off again.
 */
export function restoreDriverMessage(error: unknown, query: KnexQueryObject, client: KnexClientLike): void {
  if (!(error instanceof Error)) return;
  const prefixes = [`${query.sql} - `];
  const escapeBinding = client._escapeBinding;
  if (client.config?.compileSqlOnError !== false && typeof escapeBinding === 'function') {
    const bindings = query.bindings ?? [];
    let index = 0;
    const inlined = query.sql.replace(/\\?\?/g, (match) => {
      if (match === '\\?') return '?';
      if (index === bindings.length) return match;
      return escapeBinding.call(client, bindings[index++], {});
    });
    prefixes.unshift(`${inlined} - `);
  }
  for (const prefix of prefixes) {
    if (error.message.startsWith(prefix)) {
      error.message = error.message.slice(prefix.length);
      return;
    }
  }
}
