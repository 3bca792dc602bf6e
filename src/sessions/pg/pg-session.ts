import type { Session } from '../../core/session.js';
import { expectOptions } from '../../core/validate.js';
import { postgresSql } from '../../dialects/postgres/postgres-sql.js';
import { DriverSession } from '../shared/driver-session.js';
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
  const internals = client as unknown as { _queryable?: boolean; _ending?: boolean };
  let lastCommand: string | undefined;
  return new DriverSession<Client>({
    dialect: 'postgres',
    sql: postgresSql(),
    raw: client,
    async query(sql, params) {
      const result = (await client.query(
        sql,
        params === undefined ? undefined : [...params],
      )) as PgResultLike;
      return { rows: result.rows, rowCount: result.rowCount ?? result.rows.length };
    },
    async batch(statements) {
      // No parameters: node-postgres uses the simple protocol, so the whole list is one round trip.
      const result = (await client.query(statements.join(';\n'))) as PgResultLike | PgResultLike[];
      const last = Array.isArray(result) ? result[result.length - 1] : result;
      lastCommand = last?.command;
      return last?.rows ?? [];
    },
    lastCommand: () => lastCommand,
    inTransaction() {
      const status = client.getTransactionStatus?.();
      return status === 'T' || status === 'E' ? true : status === 'I' ? false : undefined;
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
          async commitStatus(transactionId: string): Promise<CommitStatus> {
            const result = (await sidecar.query('SELECT txid_status($1::bigint) AS status', [
              transactionId,
            ])) as PgResultLike;
            const status = result.rows[0]?.status;
            return status === 'committed' || status === 'aborted' || status === 'in progress'
              ? status
              : 'unknown';
          },
        }),
    destroy() {
      broken = true;
      // end() on a PoolClient marks it ending, so the pool discards it at release instead of reusing it.
      client.end?.().catch(() => undefined);
    },
  });
}
