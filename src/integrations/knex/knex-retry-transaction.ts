import type { Knex } from 'knex';
import type { AttemptContext } from '../../core/attempt.js';
import { isReusable, type Session, type SessionSource } from '../../core/session.js';
import type { DbOpRunner } from '../../runner/dbop-runner.js';
import type { RunOptions } from '../../runner/runner-options.js';
import { checkStatement, HandleSteps } from '../shared/handle-steps.js';
import { type OrmDialect, ormConnectionSession, ormStatement } from '../shared/orm-connection-session.js';
import { type OrmTransactionOptions, splitOrmOptions } from '../shared/orm-transaction-options.js';
import { busyTimeoutOf } from '../shared/sqlite-connection.js';
import { knexRun, restoreDriverMessage } from './knex-run.js';
import type { KnexClientLike, KnexLike, KnexQueryObject } from './knex-types.js';

/** Options of {@link retryTransaction} (dbop/knex). */
export type KnexTransactionOptions = OrmTransactionOptions;

const steps = new HandleSteps();
// Knex's own transaction statements (strings its Transaction sends, never a user's query object).
const knexOwnBoundary = /^\s*(?:begin|start\s+transaction|commit|rollback(?!\s+to\b)|set\s+transaction)\b/i;

/**
 * Runs fn as one transaction of dbop's on a connection of knex's own pool, retried as a whole on
 * deadlocks, serialization failures and lost connections. fn receives a real `Knex.Transaction` bound to
 * that connection; dbop sends BEGIN and COMMIT (Knex's 'query' event sees them), verifies a COMMIT whose
 * connection was lost, and refuses statements that would end its transaction behind its back.
 * @example
 * await retryTransaction(knex, async (trx) => {
 *   await trx('account').where({ id: 1 }).decrement('balance', 10);
 * }, { isolationLevel: 'serializable' });
 */
export function retryTransaction<T>(
  knex: Knex,
  fn: (trx: Knex.Transaction, attempt: AttemptContext) => T | PromiseLike<T>,
  options?: KnexTransactionOptions,
): Promise<T> {
  let split: ReturnType<typeof splitOrmOptions>;
  let dialect: OrmDialect;
  const client = (knex as unknown as KnexLike).client;
  try {
    split = splitOrmOptions(options, 'retryTransaction()');
    dialect = dialectOf(client);
  } catch (error) {
    return Promise.reject(error);
  }
  const { runner, verifyCommits, transaction } = split;
  return runner.transaction(
    knexSource(knex, client, dialect, verifyCommits),
    (session, attempt) => attemptTransaction(client, session, attempt, runner, fn),
    transaction,
  ) as Promise<T>;
}

/**
 * Runs fn as a nested step of the transaction trx belongs to: a SAVEPOINT, retried in place on lock
 * timeouts; a deadlock or serialization failure goes to retryTransaction, which redoes the whole unit.
 * @example await step(trx, (t) => t('hold').where({ id: 7 }).del(), { lockTimeoutMs: 500 });
 */
export function step<T>(
  trx: Knex.Transaction,
  fn: (trx: Knex.Transaction, attempt: AttemptContext) => T | PromiseLike<T>,
  options?: RunOptions<never>,
): Promise<T> {
  return steps.step(trx, fn, options);
}

function dialectOf(client: KnexClientLike): OrmDialect {
  if (client.driverName === 'pg') return 'postgres';
  if (client.driverName === 'mysql2') return 'mysql';
  if (client.driverName === 'better-sqlite3') return 'sqlite';
  throw new TypeError(
    `dbop/knex runs on Knex's pg, mysql2 and better-sqlite3 clients, not on ${String(client.driverName)}`,
  );
}

/** Sessions over connections of knex's own pool; a connection in an unknown state is ended first. */
function knexSource(
  knex: Knex,
  client: KnexClientLike,
  configured: OrmDialect,
  verifyCommits: boolean,
): SessionSource {
  const sidecar = knexRunOnPool(knex);
  return {
    async acquire() {
      const connection = (await client.acquireConnection()) as DriverConnection;
      try {
        const dialect = configured === 'mysql' ? mysqlFlavor(connection) : configured;
        return ormConnectionSession({
          dialect,
          raw: connection,
          run: knexRun(client, () => connection),
          ...(dialect === 'sqlite'
            ? {
                busyTimeoutMs: busyTimeoutOf(connection),
                inTransaction: () => connection.inTransaction === true,
              }
            : { sidecar, serverId: connection.processID ?? connection.threadId }),
          isBroken: () => brokenConnection(connection),
          verifyCommits,
          markerScope: knex,
        });
      } catch (error) {
        await client.releaseConnection(connection);
        throw error;
      }
    },
    async release(session) {
      const connection = session.raw as DriverConnection;
      // Knex's pool validates a connection before handing it out again: one that is ended is dropped.
      if (!isReusable(session) && !session.destroyed) session.destroy();
      if (session.destroyed) connection.__knex__disposed ??= 'dbop: connection state unknown';
      await client.releaseConnection(connection);
    },
  };
}

/** The driver connections Knex hands out, as far as dbop reads them. */
interface DriverConnection {
  readonly processID?: number;
  readonly threadId?: number;
  readonly _queryable?: boolean;
  readonly _ending?: boolean;
  readonly _fatalError?: unknown;
  readonly _closing?: boolean;
  readonly _handshakePacket?: { readonly serverVersion?: string };
  __knex__disposed?: unknown;
  readonly inTransaction?: boolean;
  pragma?(source: string, options: { simple: true }): unknown;
}

function brokenConnection(connection: DriverConnection): boolean {
  return (
    connection._queryable === false ||
    connection._ending === true ||
    Boolean(connection._fatalError) ||
    connection._closing === true ||
    connection.__knex__disposed !== undefined
  );
}

function mysqlFlavor(connection: DriverConnection): OrmDialect {
  return /mariadb/i.test(connection._handshakePacket?.serverVersion ?? '') ? 'mariadb' : 'mysql';
}

function knexRunOnPool(knex: Knex): ReturnType<typeof knexRun> {
  const client = (knex as unknown as KnexLike).client;
  return async (sql, params) => {
    const connection = await client.acquireConnection();
    try {
      return await knexRun(client, () => connection)(sql, params);
    } finally {
      await client.releaseConnection(connection);
    }
  };
}

/**
 * One attempt: a Knex transaction on the session's connection whose own BEGIN, COMMIT and ROLLBACK are
 * left to dbop (it already began, and commits once fn resolves); the user's statements go to the
 * connection unless they would end the transaction, or the attempt was abandoned (timed out, aborted).
 */
function attemptTransaction<T>(
  client: KnexClientLike,
  session: Session,
  attempt: AttemptContext,
  runner: DbOpRunner,
  fn: (trx: Knex.Transaction, attempt: AttemptContext) => T | PromiseLike<T>,
): PromiseLike<T> {
  const container = (trx: Knex.Transaction) => {
    steps.own(trx, runner, session);
    return Promise.resolve(fn(trx, attempt));
  };
  const pending = client.transaction(container as (trx: never) => unknown, {
    connection: session.raw,
    doNotRejectOnRollback: false,
  });
  return guarded(pending, session, attempt, true) as PromiseLike<T>;
}

/**
 * Guards the client a Knex Transaction makes for itself once it has its connection: dbop's own
 * transaction (top) and every nested trx.transaction() under it, whose client Knex builds afresh.
 */
function guarded<P extends object>(pending: P, session: Session, attempt: AttemptContext, top: boolean): P {
  let trxClient: KnexClientLike | undefined;
  Object.defineProperty(pending, 'trxClient', {
    configurable: true,
    get: () => trxClient,
    set(value: KnexClientLike) {
      trxClient = value;
      guard(value, session, attempt, top);
    },
  });
  return pending;
}

function guard(trxClient: KnexClientLike, session: Session, attempt: AttemptContext, top: boolean): void {
  const inner = trxClient.query;
  const nest = trxClient.transaction;
  (trxClient as { transaction: KnexClientLike['transaction'] }).transaction = (container, config, outerTx) =>
    guarded(nest.call(trxClient, container, config, outerTx), session, attempt, false);
  (trxClient as { query: KnexClientLike['query'] }).query = async (connection, query) => {
    if (typeof query === 'string') {
      // Knex's Transaction itself: dbop owns the transaction's start and end.
      if (top && knexOwnBoundary.test(query)) return { sql: query };
      // A nested transaction's SAVEPOINT, RELEASE or ROLLBACK TO: fenced like any statement.
      attempt.signal.throwIfAborted();
      return ormStatement(session, () => inner.call(trxClient, connection, query));
    }
    // An attempt dbop stopped (time limit, abort): its leftover statements must not reach the connection.
    checkStatement(query.sql, session, attempt);
    try {
      return await ormStatement(session, () => inner.call(trxClient, connection, query));
    } catch (error) {
      restoreDriverMessage(error, query as KnexQueryObject, trxClient);
      throw error;
    }
  };
}
