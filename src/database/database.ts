import type { AttemptContext } from '../core/attempt.js';
import type { Backend, Classification } from '../core/classification.js';
import { contentionKinds } from '../core/concurrency-limiter.js';
import type { QueryResult, Session, SessionSource } from '../core/session.js';
import { applySessionSettings, ownSessionSettings } from '../core/session-settings.js';
import { describeValue } from '../core/validate.js';
import { classify } from '../dialects/classify.js';
import type { DbOpRunner } from '../runner/dbop-runner.js';
import { unfenced } from '../runner/fenced-session.js';
import {
  checkRunOptions,
  type RunOptions,
  runOptionKeys,
  type TransactionOptions,
} from '../runner/runner-options.js';
import { type ParameterDialect, type SqlParameters, usesNamedParameters } from './bind-parameters.js';
import { concealSql } from './conceal-sql.js';
import { countingSession } from './counting-session.js';
import { DatabaseConnection, endConnection } from './database-connection.js';
import { DatabaseClosedError } from './database-errors.js';
import { type AcquireOptions, expectStep, resolveAcquireOptions } from './database-options.js';
import type { DatabaseStats } from './database-stats.js';
import type { DriverConnector } from './drivers/driver-connector.js';
import type { ErrorCounter } from './error-counter.js';
import { isPlainRead } from './read-statement.js';

export type { AcquireOptions } from './database-options.js';

/** A step or transaction body: gets a connection (and the attempt) and may return anything. */
export type DatabaseStep<T> = (connection: DatabaseConnection, attempt: AttemptContext) => T | PromiseLike<T>;

/** Everything a Database is built from; createDatabase() assembles it. */
export interface DatabaseParts {
  readonly redactedUrl: string;
  readonly connector: DriverConnector;
  readonly runner: DbOpRunner;
  readonly errors: ErrorCounter;
  readonly parameters: ParameterDialect;
  /** Behind a transaction-mode pooler: no session state between units (see DatabaseOptions.transactionPooler). */
  readonly transactionPooler?: boolean;
}

/**
 * One database behind a pool: run() a step with retries, transaction() a whole unit retried as one,
 * query() a statement, acquire() a connection in a plain transaction (FAForever server.db parity).
 * Make one with createDatabase().
 */
export class Database {
  /** The URL with its password redacted. */
  readonly url: string;
  readonly #parts: DatabaseParts;
  /** The pool's own session behind each counting proxy handed out, for giving it back. */
  readonly #real = new WeakMap<Session, Session>();
  /** The counting proxy of each pool session, made once: one per call would fill #real with young entries. */
  readonly #counted = new WeakMap<Session, Session>();
  /**
   * Every run(), query() and transaction() attempt takes its connection here, inside the runner's
   * execute: a connect failure or a connection lost mid-step is retried on a fresh connection.
   */
  readonly #source: SessionSource = this.#sourceOf(false);
  /** readOnly units take their connection here: a standby where the connector has one (multi-host URLs). */
  readonly #readSource: SessionSource = this.#sourceOf(true);
  #inUse = 0;
  #closed = false;

  constructor(parts: DatabaseParts) {
    this.url = parts.redactedUrl;
    this.#parts = parts;
  }

  /** The backend; for a mysql:// URL, known once the first connection saw the server's version. */
  get backend(): Backend {
    return this.#parts.connector.backend();
  }

  /**
   * Runs fn as one step with retries: in its own transaction on a pooled connection, committed when fn
   * resolves; a connection that fails to open or breaks is replaced for the next attempt.
   * @example const n = await db.run((conn) => conn.execute('UPDATE job SET state = :s WHERE id = :id', { s: 'done', id: 7 }));
   */
  run<T, D = never>(fn: DatabaseStep<T>, options?: RunOptions<D>): Promise<T | D> {
    try {
      expectStep(fn, 'run()');
      checkRunOptions(options, 'run', 'db.run()');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#unit(fn, options === undefined ? runNamed : { ...options, name: options.name ?? 'run' });
  }

  /**
   * Runs fn as one transaction, retried as a whole (on a fresh connection when the old one broke) after a
   * serialization failure, a deadlock or a lost connection.
   * @example await db.transaction((conn) => conn.execute('UPDATE stock SET n = n - 1 WHERE sku = :sku', { sku: 'A-1' }), { isolationLevel: 'serializable' });
   */
  transaction<T, D = never>(fn: DatabaseStep<T>, options?: TransactionOptions<D>): Promise<T | D> {
    try {
      expectStep(fn, 'transaction()');
      checkRunOptions(options, 'transaction', 'db.transaction()');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#unit(fn, options ?? noOptions);
  }

  /**
   * Runs one statement as a retried step; `params` are named (`:name`) or positional. Options come third,
   * or second when the statement takes no values: a second argument is read as options only when the SQL
   * has no `:name` placeholder, no third argument is given, and every one of its keys is an option of
   * run() (`name`, `readOnly`, `lockTimeoutMs`, ...). Anything else is parameters, as before.
   * It runs alone, in autocommit: one round trip, no BEGIN or COMMIT, the timeouts kept as the pooled
   * connection's settings. The statement is its own commit, so if the connection is lost while it runs, a
   * write may or may not have been applied: that is an AmbiguousCommitError (E9) unless `idempotent` says
   * a retry is safe. A statement whose words only read (SELECT, SHOW, VALUES, EXPLAIN, WITH without a write;
   * see isPlainRead) is sent again; give `idempotent: false` for a SELECT that calls a function that writes. With `readOnly` (enforced by the server) it runs in a READ ONLY transaction, as run();
   * so does a write with `attemptTimeoutMs`, `deadlineMs` or `signal`, so that a cut-off attempt is rolled
   * back before the next one.
   * @example const { rows } = await db.query('SELECT * FROM player WHERE id = :id', { id: 42 });
   * @example const { rows } = await db.query('SELECT count(*) AS n FROM player', { readOnly: true });
   */
  query<Row = Record<string, unknown>, D = never>(
    sql: string,
    options: RunOptions<D>,
  ): Promise<QueryResult<Row> | D>;
  query<Row = Record<string, unknown>, D = never>(
    sql: string,
    params?: SqlParameters,
    options?: RunOptions<D>,
  ): Promise<QueryResult<Row> | D>;
  // Not an async function (an extra promise and three ticks on the path of every statement); a failure is
  // still a rejection, never a throw.
  query<Row = Record<string, unknown>, D = never>(
    sql: string,
    paramsOrOptions?: SqlParameters | RunOptions<D>,
    maybeOptions?: RunOptions<D>,
  ): Promise<QueryResult<Row> | D> {
    try {
      return this.#query<Row, D>(sql, paramsOrOptions, maybeOptions);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #query<Row, D>(
    sql: string,
    paramsOrOptions: SqlParameters | RunOptions<D>,
    maybeOptions: RunOptions<D> | undefined,
  ): Promise<QueryResult<Row> | D> {
    if (typeof sql !== 'string') {
      throw new TypeError(`Expected the SQL of query() to be a string, got ${describeValue(sql)}`);
    }
    let params = paramsOrOptions as SqlParameters;
    let options = maybeOptions;
    if (
      maybeOptions === undefined &&
      looksLikeRunOptions(paramsOrOptions) &&
      !usesNamedParameters(sql, this.#parts.parameters)
    ) {
      params = undefined;
      options = paramsOrOptions as RunOptions<D>;
    }
    checkRunOptions(options, 'run', 'db.query()');
    const given: RunOptions<D> = options ?? noOptions;
    // A statement that only reads is safe to send again after a lost connection, unless the caller said
    // otherwise (readOnly or idempotent given): then their word stands.
    const read = given.idempotent === undefined && given.readOnly === undefined && isPlainRead(sql);
    // Without options, one of two frozen constants: the runner resolves their execute options once.
    const named: RunOptions<D> =
      options === undefined
        ? read
          ? readQueryNamed
          : queryNamed
        : { ...given, name: given.name ?? 'query', ...(read && { idempotent: true }) };
    // One autocommit statement, the driver's single round trip. A write that a time limit or an abort may
    // cut off keeps its own transaction: an autocommit write stopped mid-flight may or may not have been
    // applied, and only a transaction rolls it back for sure before the retry.
    const guarded =
      given.attemptTimeoutMs !== undefined || given.deadlineMs !== undefined || given.signal !== undefined;
    // Checked above: straight to the unit, not through run()'s second check.
    // readOnly is enforced by the server in a READ ONLY transaction, as run() opens it.
    // Behind a transaction pooler it needs a transaction too, for its timeouts to be transaction-local.
    if (
      given.readOnly === true ||
      (guarded && named.idempotent !== true) ||
      this.#parts.transactionPooler === true
    ) {
      return this.#unit((connection) => connection.execute<Row>(sql, params), named, false);
    }
    if (this.#closed) return Promise.reject(new DatabaseClosedError());
    return this.#parts.runner.statement(
      this.#source,
      (s, attempt) => this.#connection(s, undefined, undefined, attempt).execute<Row>(sql, params),
      named,
      true,
    );
  }

  /**
   * One connection in a plain transaction, no retries: committed when fn resolves, rolled back when it
   * throws. Inside, execute(), stream() and deadlockRetryExecute() (FAForever's acquire()). Admitted by
   * the limiter like transaction(), unless nested in a unit that holds a permit.
   */
  async acquire<T>(
    fn: (connection: DatabaseConnection) => T | PromiseLike<T>,
    options?: AcquireOptions,
  ): Promise<T> {
    expectStep(fn, 'acquire()');
    const begin = resolveAcquireOptions(options);
    // Admitted like a transaction(): it is one, only without retries. Not when nested in a unit that holds a permit.
    const limiter = this.#parts.runner.limiter;
    const permit =
      limiter === undefined || limiter.held()
        ? undefined
        : (limiter.tryAcquire() ?? (await limiter.acquire()));
    if (permit === undefined) return this.#acquired(fn, begin);
    try {
      const value = await limiter!.runHolding(() => this.#acquired(fn, begin));
      permit.release('success');
      return value;
    } catch (error) {
      const kind = classify(error, { dialect: this.backend }).kind;
      permit.release(contentionKinds.has(kind) ? 'contention' : 'other');
      throw error;
    }
  }

  async #acquired<T>(
    fn: (connection: DatabaseConnection) => T | PromiseLike<T>,
    begin: ReturnType<typeof resolveAcquireOptions>,
  ): Promise<T> {
    const real = await this.#take('acquire');
    const session = countingSession(real, (error) => this.#parts.errors.record(error, 'acquire'));
    try {
      // acquire() runs with the server's own settings, whatever run() and query() left on the connection.
      await applySessionSettings(session, {});
      await session.begin(begin);
      const connection = this.#connection(session, 'acquire', () => session.begin(begin));
      const { connector } = this.#parts;
      let result: T;
      try {
        result = await (connector.enclose === undefined
          ? fn(connection)
          : connector.enclose(session, () => fn(connection)));
      } finally {
        endConnection(connection);
      }
      // The body may have ended the transaction itself (acquire() is the manual way): nothing left to commit,
      // and SQLite refuses a COMMIT with none open.
      if (session.inTransaction()) await session.commit();
      return result;
    } catch (error) {
      if (session.inTransaction() && !session.destroyed) {
        await session.rollback().catch(() => session.destroy(error));
      }
      throw error;
    } finally {
      await this.#give(real);
    }
  }

  /** Closes the pool; later calls reject with DatabaseClosedError. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#parts.connector.close();
  }

  /** Pool counts and database errors (connect failures included) by kind and code. */
  stats(): DatabaseStats {
    const limiter = this.#parts.runner.limiter;
    return Object.freeze({
      backend: this.backend,
      pool: Object.freeze({ ...this.#parts.connector.counts(), inUse: this.#inUse }),
      errors: this.#parts.errors.snapshot(),
      ...(limiter === undefined ? {} : { limiter: limiter.stats() }),
    });
  }

  /** `handedOut`: fn is the caller's, which may keep the connection past the unit (query()'s own is not). */
  #unit<T, D>(fn: DatabaseStep<T>, options: TransactionOptions<D>, handedOut = true): Promise<T | D> {
    if (this.#closed) return Promise.reject(new DatabaseClosedError());
    const { connector, runner } = this.#parts;
    const step: DatabaseStep<T> = handedOut
      ? (connection, attempt) => ownedStep(fn, connection, attempt)
      : fn;
    return runner.transaction(
      options.readOnly === true ? this.#readSource : this.#source,
      connector.enclose === undefined
        ? (s, attempt) => step(this.#connection(s, undefined, undefined, attempt), attempt)
        : (s, attempt) =>
            connector.enclose!(s, () => step(this.#connection(s, undefined, undefined, attempt), attempt)),
      options,
    );
  }

  #sourceOf(reader: boolean): SessionSource {
    // Not async functions: each call of either is on the path of every unit and statement.
    return {
      acquire: (signal) => this.#take(undefined, reader, this.#countedOf, signal),
      release: (session) => this.#give(this.#real.get(session) ?? session),
    };
  }

  /** The counting proxy of a pool session, made on its first lending. */
  readonly #countedOf = (real: Session): Session => {
    let counted = this.#counted.get(real);
    if (counted === undefined) {
      // The pool is dbop's: scopes keep timeouts as the connection's own settings, sent when they change.
      // Not behind a transaction pooler, where the server connection under it changes between units.
      if (this.#parts.transactionPooler !== true) ownSessionSettings(real);
      counted = countingSession(real, this.#recordError);
      this.#real.set(counted, real);
      this.#counted.set(real, counted);
    }
    return counted;
  };

  readonly #recordError = (error: unknown): Classification => this.#parts.errors.record(error);
  readonly #classifyError = (error: unknown): Classification => this.#parts.errors.classify(error);
  /** What the counting proxy does with a failure, for statements sent past it (see ConnectionContext.direct). */
  readonly #recordConcealed = (error: unknown): Classification => {
    concealSql(error);
    return this.#parts.errors.record(error);
  };
  readonly #sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

  /** A pooled session; a failure to get one (refused, timed out, pool closed) is counted, then thrown. */
  #take(
    publishAs: string | undefined,
    reader = false,
    lent: (session: Session) => Session = (session) => session,
    signal?: AbortSignal,
  ): Promise<Session> {
    if (this.#closed) return Promise.reject(new DatabaseClosedError());
    const { connector, errors } = this.#parts;
    let taken: Promise<Session>;
    try {
      taken =
        reader && connector.acquireReader !== undefined
          ? connector.acquireReader(signal)
          : connector.acquire(signal);
    } catch (error) {
      errors.record(error, publishAs);
      return Promise.reject(error);
    }
    return taken.then(
      (session) => {
        this.#inUse += 1;
        return lent(session);
      },
      (error: unknown) => {
        // Given up in the queue (the caller's abort, the attempt's limit, the deadline): no database error.
        if (signal?.aborted !== true || error !== signal.reason) errors.record(error, publishAs);
        throw error;
      },
    );
  }

  #give(session: Session): Promise<void> {
    this.#inUse -= 1;
    try {
      return Promise.resolve(this.#parts.connector.release(session));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `attempt`: the runner's attempt, for a unit's or statement's session (the pool's, counted, maybe fenced). */
  #connection(
    session: Session,
    publishAs: string | undefined,
    begin?: () => Promise<void>,
    attempt?: AttemptContext,
  ): DatabaseConnection {
    const { connector, errors, parameters } = this.#parts;
    const stream = connector.stream;
    const pooled = attempt === undefined ? undefined : this.#real.get(unfenced(session));
    return new DatabaseConnection(session, {
      parameters,
      record:
        pooled !== undefined
          ? this.#recordConcealed
          : publishAs === undefined
            ? this.#recordError
            : (error) => errors.record(error, publishAs),
      classify: this.#classifyError,
      stream:
        stream === undefined ? undefined : (sql, values) => stream.call(connector, session, sql, values),
      sleep: this.#sleep,
      begin,
      // The pool's counting session records its statements' failures itself, with the same counter; execute()
      // records those it sends past it (direct).
      counted: pooled === undefined && publishAs === undefined && this.#real.has(session),
      direct: pooled === undefined ? undefined : { session: pooled, attempt: attempt! },
    });
  }
}

/**
 * fn(connection), the connection ended (endConnection) once fn has settled: kept past its unit, it must
 * not reach the pooled connection after the unit gave it back.
 */
function ownedStep<T>(
  fn: DatabaseStep<T>,
  connection: DatabaseConnection,
  attempt: AttemptContext,
): Promise<T> {
  try {
    // then(ended, failed) rather than finally(): one promise per unit, where finally() makes three.
    return Promise.resolve(fn(connection, attempt)).then(
      (value) => {
        endConnection(connection);
        return value;
      },
      (error: unknown) => {
        endConnection(connection);
        throw error;
      },
    );
  } catch (error) {
    endConnection(connection);
    throw error;
  }
}

// The options of a call given none, frozen so that the runner checks and resolves them once.
const noOptions: RunOptions<never> = Object.freeze({});
const runNamed: RunOptions<never> = Object.freeze({ name: 'run' });
const queryNamed: RunOptions<never> = Object.freeze({ name: 'query' });
const readQueryNamed: RunOptions<never> = Object.freeze({ name: 'query', idempotent: true });

/** A plain object with at least one key, all of them run() options: query()'s second-argument options. */
function looksLikeRunOptions(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((key) => runOptionKeys.has(key));
}
