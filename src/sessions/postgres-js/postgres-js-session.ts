import type { Session } from '../../core/session.js';
import { expectOptions } from '../../core/validate.js';
import { postgresSql } from '../../dialects/postgres/postgres-sql.js';
import { DriverSession } from '../shared/driver-session.js';
import { postgresCommitStatus } from '../shared/postgres-commit-status.js';
import type { CommitStatus } from '../shared/session-driver.js';
import type {
  PostgresJsPendingQuery,
  PostgresJsQueryable,
  PostgresJsReservedLike,
} from './postgres-js-types.js';

/** Options of {@link postgresJsSession}. */
export interface PostgresJsSessionOptions {
  /** The main `sql` instance: verifies a COMMIT whose connection was lost (txid_status). */
  readonly sidecar?: PostgresJsQueryable;
}

const knownKeys: ReadonlySet<string> = new Set(['sidecar']);
// postgres.js connection errors after which the reserved connection is gone.
const fatalCodes = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'ECONNRESET',
  'EPIPE',
]);

type RowList = Record<string, unknown>[] & { count?: number | null; command?: string };

// Set transaction-locally by one statement and read by the next, each in its own implicit transaction
// unless a transaction block is open: only then does the value survive. Pipelined: one round trip.
const probeSet = "SELECT set_config('dbop.in_block', 'on', true)";
const probeGet = "SELECT current_setting('dbop.in_block', true) AS v";

/**
 * A dbop Session over a postgres.js reserved connection. Cancellation uses postgres.js's own query.cancel().
 * @example
 * const session = postgresJsSession(await sql.reserve(), { sidecar: sql });
 */
export function postgresJsSession<Reserved extends PostgresJsReservedLike>(
  reserved: Reserved,
  options: PostgresJsSessionOptions = {},
): Session<Reserved> {
  expectOptions(options, knownKeys, 'postgresJsSession()');
  const sidecar = options.sidecar;
  const inFlight = new Set<PostgresJsPendingQuery>();
  let broken = false;
  let lastCommand: string | undefined;
  const send = async (text: string, params?: unknown[]): Promise<unknown> => {
    const pending = reserved.unsafe(text, params);
    inFlight.add(pending);
    try {
      return await pending;
    } catch (error) {
      if (fatalCodes.has(String((error as { code?: unknown } | null)?.code))) broken = true;
      throw error;
    } finally {
      inFlight.delete(pending);
    }
  };
  return new DriverSession<Reserved>({
    dialect: 'postgres',
    sql: postgresSql(),
    raw: reserved,
    async query(text, params) {
      const rows = (await send(text, params === undefined ? [] : [...params])) as RowList;
      return { rows: [...rows], rowCount: rows.count ?? rows.length };
    },
    async batch(statements) {
      // Without parameters postgres.js uses the simple protocol: one round trip for the whole list.
      const result = (await send(statements.join(';\n'))) as RowList | RowList[];
      const last = statements.length > 1 ? (result as RowList[])[(result as RowList[]).length - 1] : result;
      lastCommand = (last as RowList | undefined)?.command;
      return Array.isArray(last) ? [...(last as RowList)] : [];
    },
    lastCommand: () => lastCommand,
    // postgres.js keeps no transaction status: ask the server. An aborted block fails both: open too.
    async probeTransaction() {
      const [, rows] = await Promise.all([send(probeSet).catch(() => undefined), send(probeGet)]).catch(
        (error: unknown) => {
          if ((error as { code?: unknown } | null)?.code === '25P02') return [undefined, [{ v: 'on' }]];
          throw error;
        },
      );
      return (rows as RowList)[0]?.v === 'on';
    },
    isBroken: () => broken,
    async cancel() {
      for (const pending of inFlight) pending.cancel();
    },
    ...(sidecar === undefined
      ? {}
      : {
          commitStatus: (transactionId: string): Promise<CommitStatus> =>
            postgresCommitStatus(
              transactionId,
              async (sql, params) => (await sidecar.unsafe(sql, [...params])) as RowList,
            ),
        }),
    // postgres.js has no public way to close one reserved connection: the session stops using it and
    // cancels what runs; the caller must not release it back for reuse (see the report on destroyed).
    destroy() {
      broken = true;
      for (const pending of inFlight) pending.cancel();
    },
  });
}
