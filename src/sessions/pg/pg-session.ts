import type { QueryResult, Session } from '../../core/session.js';
import { expectOptions } from '../../core/validate.js';
import { isOrderlyTermination } from '../../dialects/postgres/orderly-termination.js';
import { postgresSql } from '../../dialects/postgres/postgres-sql.js';
import { DriverSession } from '../shared/driver-session.js';
import { postgresCommitStatus } from '../shared/postgres-commit-status.js';
import type { CommitStatus } from '../shared/session-driver.js';
import type { PgClientLike, PgQueryable, PgResultLike } from './pg-types.js';

/** Options of {@link pgSession}. */
export interface PgSessionOptions {
  /**
   * A second way to reach the server (usually the pg Pool): it cancels a timed-out statement
   * (pg_cancel_backend) and verifies a COMMIT whose connection was lost (txid_status).
   */
  readonly sidecar?: PgQueryable;
}

const knownKeys: ReadonlySet<string> = new Set(['sidecar']);
const watched: WeakSet<object> = new WeakSet();

/**
 * A dbop Session over a node-postgres Client or PoolClient.
 * @example
 * const client = await pool.connect();
 * const session = pgSession(client, { sidecar: pool });
 */
export function pgSession<Client extends PgClientLike>(
  client: Client,
  options: PgSessionOptions = {},
): Session<Client> {
  expectOptions(options, knownKeys, 'pgSession()');
  const sidecar = options.sidecar;
  let broken = false;
  // A backend killed while the client is checked out emits 'error'; unhandled, it would crash the process.
  if (typeof client.on === 'function' && !watched.has(client)) {
    watched.add(client);
    client.on('error', () => {
      broken = true;
    });
  }
  const internals = client as unknown as PgClientInternals;
  let lastCommand: string | undefined;
  // The last batch's rows were passed on as they arrived (its Query object was found and listened to).
  let rowsWatched = false;
  return new DriverSession<Client>({
    dialect: 'postgres',
    sql: postgresSql(),
    raw: client,
    // Not an async function (every statement's path), but failing the same way: a rejection.
    query(sql, params) {
      let pending: Promise<PgResultLike>;
      try {
        pending = client.query(sql, params === undefined ? undefined : [...params]) as Promise<PgResultLike>;
      } catch (error) {
        pending = Promise.reject(error);
      }
      return pending.then(queryResult, (error: unknown) =>
        readyAfterError(internals).then(() => {
          throw error;
        }),
      );
    },
    async batch(statements, onRow) {
      // No parameters: node-postgres uses the simple protocol, so the whole list is one round trip.
      const text = statements.join(';\n');
      const pending = client.query(text) as Promise<PgResultLike | PgResultLike[]>;
      let query: PgQueryObject | undefined;
      if (onRow !== undefined) {
        query = queryOf(client, text);
        query?.on('row', onRow);
      }
      rowsWatched = query !== undefined;
      let result: PgResultLike | PgResultLike[];
      try {
        result = await pending;
      } catch (error) {
        await readyAfterError(internals);
        throw error;
      }
      const last = Array.isArray(result) ? result[result.length - 1] : result;
      lastCommand = last?.command;
      return last?.rows ?? [];
    },
    // node-postgres's own client queues its Query objects, which emit each row as it is parsed.
    rowsAsTheyArrive: queueOf(client) !== undefined,
    lastCommand: () => lastCommand,
    // node-postgres parses the server's messages in order and emits each row before the error that follows.
    endedInOrder: (error) => rowsWatched && isOrderlyTermination(error),
    inTransaction() {
      const status = client.getTransactionStatus?.();
      return status === 'T' || status === 'E' ? true : status === 'I' ? false : undefined;
    },
    serverIdle() {
      // A ReadyForQuery still owed (a statement in flight or its answer not yet read) means not idle.
      if (internals.readyForQuery === false) return false;
      const status = client.getTransactionStatus?.();
      return status === 'I' ? true : status === 'T' || status === 'E' ? false : undefined;
    },
    isBroken: () => broken || internals._queryable === false || internals._ending === true,
    ...(sidecar === undefined
      ? {}
      : {
          async cancel() {
            if (typeof client.processID === 'number') {
              await sidecar.query('SELECT pg_cancel_backend($1)', [client.processID]);
            }
          },
          commitStatus: (transactionId: string): Promise<CommitStatus> =>
            postgresCommitStatus(
              transactionId,
              async (sql, params) => ((await sidecar.query(sql, [...params])) as PgResultLike).rows,
            ),
        }),
    destroy() {
      broken = true;
      // end() on a PoolClient marks it ending, so the pool discards it at release instead of reusing it.
      client.end?.().catch(() => undefined);
    },
  });
}

interface PgQueryObject {
  readonly text?: unknown;
  on(event: 'row', listener: (row: Record<string, unknown>) => void): unknown;
}

/**
 * The Query object node-postgres made for the text just submitted: the active one, or the last queued. Its
 * 'row' events arrive even when a later statement of the same batch fails, where the promise loses them.
 */
function queryOf(client: unknown, text: string): PgQueryObject | undefined {
  const queue = queueOf(client) ?? [];
  const internals = client as { _activeQuery?: unknown; activeQuery?: unknown };
  // pg 8.12 and later keep the active query in `_activeQuery` (`activeQuery` is a deprecated getter there).
  const active = '_activeQuery' in internals ? internals._activeQuery : internals.activeQuery;
  for (const candidate of [queue.at(-1), active]) {
    const query = candidate as Partial<PgQueryObject> | null | undefined;
    if (query?.text === text && typeof query.on === 'function') return query as PgQueryObject;
  }
  return undefined;
}

// Read without touching deprecated getters: `_queryQueue` from pg 8.12 on, a plain `queryQueue` before.
function queueOf(client: unknown): unknown[] | undefined {
  const internals = client as { _queryQueue?: unknown; queryQueue?: unknown };
  const queue = '_queryQueue' in internals ? internals._queryQueue : internals.queryQueue;
  return Array.isArray(queue) ? queue : undefined;
}

/** node-postgres Client fields read here; absent on other clients, where nothing is waited for. */
interface PgClientInternals {
  readonly _queryable?: boolean;
  readonly _ending?: boolean;
  readonly readyForQuery?: boolean;
  readonly _activeQuery?: unknown;
  readonly connection?: {
    once?(event: string, listener: () => void): unknown;
    removeListener?(event: string, listener: () => void): unknown;
  };
}

/**
 * node-postgres rejects a query on the server's ErrorResponse, before the ReadyForQuery that carries the
 * transaction status ('E' after BEGIN; SET <bad value>) may have arrived: until it does, the status it
 * reports is the previous statement's. Waits for it (bounded), so the status read after an error is the
 * server's current one.
 */
function queryResult(result: PgResultLike): QueryResult {
  return { rows: result.rows, rowCount: result.rowCount ?? result.rows.length };
}

function readyAfterError(client: PgClientInternals): Promise<void> {
  const connection = client.connection;
  if (client.readyForQuery !== false || client._activeQuery != null || connection?.once === undefined)
    return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      for (const event of ['readyForQuery', 'end', 'error']) connection.removeListener?.(event, done);
      resolve();
    };
    const timer = setTimeout(done, 1000);
    for (const event of ['readyForQuery', 'end', 'error']) connection.once?.(event, done);
  });
}
