import type { AttemptContext } from '../core/attempt.js';
import { isStopped } from '../core/attempt-context.js';
import type { Classification } from '../core/classification.js';
import type { QueryResult, Session } from '../core/session.js';
import { fencedOut } from '../runner/fenced-session.js';
import { bindParameters, type ParameterDialect, type SqlParameters } from './bind-parameters.js';
import { concealSql } from './conceal-sql.js';
import { ConnectionEndedError } from './database-errors.js';
import { type DeadlockRetryOptions, resolveDeadlockRetryOptions } from './database-options.js';
import type { RowStream } from './drivers/driver-connector.js';

export type { DeadlockRetryOptions } from './database-options.js';

/** What a connection needs from its Database. */
export interface ConnectionContext {
  readonly parameters: ParameterDialect;
  /** Counts the error and returns its classification. */
  readonly record: (error: unknown) => Classification;
  /** Classifies the error without counting it. */
  readonly classify: (error: unknown) => Classification;
  /** The driver's own row stream, when it has one; otherwise a SQL cursor (postgres). */
  readonly stream?: ((sql: string, values: readonly unknown[]) => RowStream) | undefined;
  readonly sleep: (ms: number) => Promise<void>;
  /**
   * The session itself passes every failure of its statements to `record` (the Database's counting
   * session): execute() then does not record them again.
   */
  readonly counted?: boolean | undefined;
  /**
   * The pool's own session under `session` (which is the Database's counting proxy, maybe inside the
   * runner's fence), with the attempt the fence watches: execute() sends there and does the proxies' work
   * itself (it refuses a statement once the attempt was stopped, and passes every failure to `record`),
   * two proxy traps, closures and a promise fewer on every statement's path.
   */
  readonly direct?: { readonly session: Session; readonly attempt: AttemptContext } | undefined;
  /**
   * Opens the transaction again after a restart (acquire() only). Absent where the runner owns the
   * transaction: there a failure propagates to the runner, which retries the whole unit itself.
   */
  readonly begin?: (() => Promise<void>) | undefined;
}

let cursorNumber = 0;

// Connections whose unit has ended (endConnection): a WeakSet rather than a method, so that nothing public
// can end, or reopen, a connection.
const endedConnections = new WeakSet<DatabaseConnection>();

/**
 * Ends a connection's use once its unit's function has settled: every later statement is refused with
 * ConnectionEndedError instead of running on a pooled connection that is no longer the unit's.
 */
export function endConnection(connection: DatabaseConnection): void {
  endedConnections.add(connection);
}

/**
 * One pooled connection inside a transaction, as acquire(), run() and transaction() hand it out
 * (FAForever server.db parity). Parameters are named (`:name`, an object) or positional (an array, in
 * the driver's own placeholder style).
 */
export class DatabaseConnection {
  /** The session underneath, for what this class does not cover. */
  readonly session: Session;
  readonly #context: ConnectionContext;
  /**
   * The session's statement count when the transaction began: deadlockRetryExecute may restart the
   * transaction only while nothing else ran in it, whichever way it was sent (execute, stream, the session).
   */
  #statementsAtBegin: number | undefined;

  constructor(session: Session, context: ConnectionContext) {
    this.session = session;
    this.#context = context;
    this.#statementsAtBegin = session.statements;
  }

  /**
   * Runs one statement and returns its rows and row count; every error is counted before it propagates.
   * @example await conn.execute('UPDATE account SET balance = balance - :amount WHERE id = :id', { id: 1, amount: 10 })
   */
  execute<Row = Record<string, unknown>>(sql: string, params?: SqlParameters): Promise<QueryResult<Row>> {
    // Not an async function (this is every statement's path), but failing the same way: a rejection.
    if (endedConnections.has(this)) return Promise.reject(new ConnectionEndedError());
    let result: Promise<QueryResult<Row>>;
    const direct = this.#context.direct;
    try {
      const bound = bindParameters(sql, params, this.#context.parameters);
      try {
        if (direct === undefined) result = this.session.query<Row>(bound.sql, bound.values);
        else if (isStopped(direct.attempt)) result = Promise.reject(direct.attempt.signal.reason);
        else result = direct.session.query<Row>(bound.sql, bound.values);
      } catch (error) {
        this.#record(error);
        throw error;
      }
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#context.counted === true) return result;
    return result.then(undefined, (error: unknown) => {
      this.#record(error);
      throw error;
    });
  }

  /** Rows one at a time, for results too large to hold; stop early with `break`. */
  async *stream<Row = Record<string, unknown>>(
    sql: string,
    params?: SqlParameters,
  ): AsyncGenerator<Row, void, undefined> {
    if (endedConnections.has(this)) throw new ConnectionEndedError();
    const bound = bindParameters(sql, params, this.#context.parameters);
    // A driver's own stream reads the raw handle, past the attempt's fence: refused here once it ended,
    // or a body run on after its abort or time limit would still reach the server (in autocommit, say).
    const direct = this.#context.direct;
    if (direct !== undefined && isStopped(direct.attempt)) throw direct.attempt.signal.reason;
    try {
      if (this.#context.stream !== undefined) {
        yield* this.#context.stream(bound.sql, bound.values) as AsyncIterable<Row>;
      } else {
        yield* this.#cursor<Row>(bound.sql, bound.values);
      }
    } catch (error) {
      concealSql(error);
      this.#record(error);
      throw error;
    }
  }

  /**
   * execute() that survives deadlocks, serialization failures and lock timeouts (FAForever's
   * deadlock_retry_execute). In acquire(), a statement that is the transaction's first is retried after
   * ROLLBACK, a back-off (delayMs, doubling) and a new BEGIN. Otherwise only statement-scope errors (lock
   * timeouts) are retried, inside a SAVEPOINT: a deadlock already cost the whole transaction (MySQL 1213
   * rolls it back), so it propagates to acquire() or to the runner, which retries the whole unit.
   */
  async deadlockRetryExecute<Row = Record<string, unknown>>(
    sql: string,
    params?: SqlParameters,
    options?: DeadlockRetryOptions,
  ): Promise<QueryResult<Row>> {
    if (endedConnections.has(this)) throw new ConnectionEndedError();
    const { maxAttempts, delayMs } = resolveDeadlockRetryOptions(options);
    let restartPending = false;
    for (let attempt = 1; ; attempt += 1) {
      let restartable = false;
      let savepoint: string | undefined;
      try {
        if (restartPending) {
          await this.#context.begin!();
          restartPending = false;
          this.#statementsAtBegin = this.session.statements;
        }
        // A session that cannot count its statements is never restarted: earlier work would be lost.
        const statements = this.session.statements;
        restartable =
          this.#context.begin !== undefined &&
          statements !== undefined &&
          statements === this.#statementsAtBegin;
        if (!restartable && attempt < maxAttempts) savepoint = await this.session.savepoint();
        const result = await this.execute<Row>(sql, params);
        if (savepoint !== undefined) await this.session.releaseSavepoint(savepoint);
        return result;
      } catch (error) {
        const classification = this.#record(error);
        const contention = ['deadlock', 'lock-timeout', 'serialization'].includes(classification.kind);
        if (attempt >= maxAttempts || !contention) throw error;
        if (restartable) {
          // Nothing else ran in this transaction yet: end it, back off outside it, and begin anew.
          if (this.session.inTransaction()) await this.session.rollback();
          await this.#context.sleep(delayMs * 2 ** (attempt - 1));
          restartPending = true;
        } else if (
          savepoint !== undefined &&
          classification.scope === 'statement' &&
          this.session.inTransaction()
        ) {
          // A lock timeout already waited its full time: re-run at once rather than sleep holding locks.
          await this.session.rollbackToSavepoint(savepoint, { release: true });
        } else {
          throw error;
        }
      }
    }
  }

  // A statement the attempt's fence refused (the step ran on after the caller's abort or a time limit) is no
  // database error: classified, not counted.
  #record(error: unknown): Classification {
    return fencedOut(this.session, error) ? this.#context.classify(error) : this.#context.record(error);
  }

  // Postgres: pg and PGlite have no row streaming of their own, but the connection is always inside a
  // transaction here, where a server-side cursor streams in batches.
  async *#cursor<Row>(sql: string, values: readonly unknown[]): AsyncGenerator<Row, void, undefined> {
    cursorNumber += 1;
    const name = `dbop_stream_${cursorNumber}`;
    await this.session.query(`DECLARE ${name} NO SCROLL CURSOR FOR ${sql}`, values);
    try {
      for (;;) {
        const batch = await this.session.query<Row>(`FETCH 200 FROM ${name}`);
        yield* batch.rows;
        if (batch.rows.length < 200) return;
      }
    } finally {
      if (this.session.inTransaction() && !this.session.destroyed) {
        await this.session.query(`CLOSE ${name}`).catch(() => undefined);
      }
    }
  }
}
