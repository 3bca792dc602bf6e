import type { AttemptContext } from '../core/attempt.js';
import type { Backend } from '../core/classification.js';
import type { IsolationLevel, QueryResult, Session, SessionSource } from '../core/session.js';
import type { DbOpRunner } from '../runner/dbop-runner.js';
import type { RunOptions, TransactionOptions } from '../runner/runner-options.js';
import type { ParameterDialect, SqlParameters } from './bind-parameters.js';
import { countingSession } from './counting-session.js';
import { DatabaseConnection } from './database-connection.js';
import { DatabaseClosedError } from './database-errors.js';
import type { DatabaseStats } from './database-stats.js';
import type { DriverConnector } from './drivers/driver-connector.js';
import type { ErrorCounter } from './error-counter.js';

/** Options of {@link Database.acquire}. */
export interface AcquireOptions {
  readonly isolationLevel?: IsolationLevel;
  readonly readOnly?: boolean;
}

/** A step or transaction body: gets a connection (and the attempt) and may return anything. */
export type DatabaseStep<T> = (connection: DatabaseConnection, attempt: AttemptContext) => T | PromiseLike<T>;

/** Everything a Database is built from; createDatabase() assembles it. */
export interface DatabaseParts {
  readonly redactedUrl: string;
  readonly connector: DriverConnector;
  readonly runner: DbOpRunner;
  readonly errors: ErrorCounter;
  readonly parameters: ParameterDialect;
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
   * Runs fn as one step with retries: in its own transaction, committed when fn resolves.
   * @example const n = await db.run((conn) => conn.execute('UPDATE job SET state = :s WHERE id = :id', { s: 'done', id }));
   */
  async run<T, D = never>(fn: DatabaseStep<T>, options?: RunOptions<D>): Promise<T | D> {
    const session = await this.#take();
    try {
      const counted = countingSession(session, (error) => this.#parts.errors.record(error));
      return await this.#parts.runner.run(
        counted,
        (s, attempt) => fn(this.#connection(s, undefined), attempt),
        options,
      );
    } finally {
      await this.#give(session);
    }
  }

  /**
   * Runs fn as one transaction, retried as a whole (on a fresh connection when the old one broke) after a
   * serialization failure, a deadlock or a lost connection.
   * @example await db.transaction(async (conn) => { ... }, { isolationLevel: 'serializable' });
   */
  transaction<T, D = never>(fn: DatabaseStep<T>, options?: TransactionOptions<D>): Promise<T | D> {
    const source: SessionSource = {
      acquire: async () => countingSession(await this.#take(), (error) => this.#parts.errors.record(error)),
      release: (session) => this.#give(session),
    };
    return this.#parts.runner.transaction(
      source,
      (s, attempt) => fn(this.#connection(s, undefined), attempt),
      options,
    );
  }

  /**
   * Runs one statement as a retried step; `params` are named (`:name`) or positional.
   * @example const { rows } = await db.query('SELECT * FROM player WHERE id = :id', { id: 42 });
   */
  query<Row = Record<string, unknown>, D = never>(
    sql: string,
    params?: SqlParameters,
    options?: RunOptions<D>,
  ): Promise<QueryResult<Row> | D> {
    return this.run((connection) => connection.execute<Row>(sql, params), { name: 'query', ...options });
  }

  /**
   * One connection in a plain transaction, no retries: committed when fn resolves, rolled back when it
   * throws. Inside, execute(), stream() and deadlockRetryExecute() (FAForever's acquire()).
   */
  async acquire<T>(
    fn: (connection: DatabaseConnection) => T | PromiseLike<T>,
    options: AcquireOptions = {},
  ): Promise<T> {
    const real = await this.#take();
    const session = countingSession(real, (error) => this.#parts.errors.record(error, 'acquire'));
    try {
      await session.begin(options);
      const result = await fn(this.#connection(session, 'acquire', () => session.begin(options)));
      await session.commit();
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

  /** Pool counts and database errors by kind and code. */
  stats(): DatabaseStats {
    return Object.freeze({
      backend: this.backend,
      pool: Object.freeze({ ...this.#parts.connector.counts(), inUse: this.#inUse }),
      errors: this.#parts.errors.snapshot(),
    });
  }

  async #take(): Promise<Session> {
    if (this.#closed) throw new DatabaseClosedError();
    const session = await this.#parts.connector.acquire();
    this.#inUse += 1;
    return session;
  }

  async #give(session: Session): Promise<void> {
    this.#inUse -= 1;
    await this.#parts.connector.release(session);
  }

  #connection(
    session: Session,
    publishAs: string | undefined,
    begin?: () => Promise<void>,
  ): DatabaseConnection {
    const { connector, errors, parameters } = this.#parts;
    const stream = connector.stream;
    return new DatabaseConnection(session, {
      parameters,
      record: (error) => errors.record(error, publishAs),
      stream:
        stream === undefined ? undefined : (sql, values) => stream.call(connector, session, sql, values),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      begin,
    });
  }
}
