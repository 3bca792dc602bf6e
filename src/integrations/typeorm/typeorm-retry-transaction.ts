import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import type { AttemptContext } from '../../core/attempt.js';
import { DbopError } from '../../core/errors.js';
import { isReusable, type Session, type SessionSource } from '../../core/session.js';
import type { RunOptions } from '../../runner/runner-options.js';
import { checkStatement, HandleSteps } from '../shared/handle-steps.js';
import { type OrmQueryResult, ormStatement, pgClientSession } from '../shared/orm-connection-session.js';
import { type OrmTransactionOptions, splitOrmOptions } from '../shared/orm-transaction-options.js';
import { inSqliteCallback } from '../shared/sqlite-connection.js';
import { typeormMysqlSource } from './typeorm-mysql.js';
import { typeormSqliteSource } from './typeorm-sqlite.js';

/** Options of {@link retryTransaction} (dbop/typeorm). */
export type TypeormTransactionOptions = OrmTransactionOptions;

/** The node-postgres client a Postgres QueryRunner holds, as far as dbop reads it. */
interface PgClient {
  query(
    text: string,
    params?: unknown[],
  ): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null; command?: string }>;
  readonly processID?: number;
  readonly _queryable?: boolean;
  readonly _ending?: boolean;
  on?(event: 'error', listener: (error: unknown) => void): unknown;
}

const releasedError = /^QueryRunner(?:Provider)?AlreadyReleasedError$/;
const supported = new Set<string>(['postgres', 'mysql', 'mariadb', 'better-sqlite3']);
const steps = new HandleSteps();
// The error that ended a runner's connection: TypeORM releases the runner on it, and its later queries
// then fail with QueryRunnerAlreadyReleasedError, which says nothing about why.
const connectionErrors = new WeakMap<QueryRunner, unknown>();
const runnerOf = new WeakMap<object, QueryRunner>();

/**
 * Runs fn as one transaction of dbop's on a QueryRunner of the DataSource's own pool, retried as a whole
 * on deadlocks, serialization failures and lost connections. fn receives that QueryRunner's
 * EntityManager; dbop sends BEGIN and COMMIT (TypeORM's logger sees them), the runner is marked in a
 * transaction so `save()` opens none of its own, and starting, committing or rolling back through it is
 * refused. Drivers 'postgres', 'mysql' and 'mariadb' (the flavour read from the server's handshake), and
 * 'better-sqlite3' (its one connection, a transaction at a time, each on a QueryRunner of its own).
 * @example
 * await retryTransaction(dataSource, async (manager) => {
 *   await manager.decrement(Account, { id: 1 }, 'balance', 10);
 * }, { isolationLevel: 'serializable' });
 */
export function retryTransaction<T>(
  dataSource: DataSource,
  fn: (manager: EntityManager, attempt: AttemptContext) => T | PromiseLike<T>,
  options?: TypeormTransactionOptions,
): Promise<T> {
  let split: ReturnType<typeof splitOrmOptions>;
  try {
    split = splitOrmOptions(options, 'retryTransaction()');
    if (!supported.has(dataSource.options.type)) {
      throw new TypeError(
        `dbop/typeorm runs on TypeORM's 'postgres', 'mysql', 'mariadb' and 'better-sqlite3' drivers, not on '${dataSource.options.type}' yet`,
      );
    }
  } catch (error) {
    return Promise.reject(error);
  }
  const { runner, verifyCommits, transaction } = split;
  const type = dataSource.options.type;
  return runner.transaction(
    type === 'postgres'
      ? typeormSource(dataSource)
      : type === 'better-sqlite3'
        ? typeormSqliteSource(dataSource)
        : typeormMysqlSource(dataSource, verifyCommits, (queryRunner, error) =>
            connectionErrors.set(queryRunner, error),
          ),
    async (session, attempt) => {
      const queryRunner = session.raw as QueryRunner;
      guard(queryRunner, session, attempt);
      steps.own(queryRunner.manager, runner, session);
      try {
        return await inSqliteCallback(session, () => fn(queryRunner.manager, attempt));
      } catch (error) {
        // TypeORM releases the runner on its connection's 'error', and then manager.query() (DataSource.query)
        // refuses it before dbop's guard sees the statement: the connection's loss is what ended the attempt.
        const lost = connectionErrors.get(queryRunner);
        throw queryRunner.isReleased &&
          lost !== undefined &&
          releasedError.test(String((error as Error)?.name))
          ? lost
          : error;
      }
    },
    transaction,
  ) as Promise<T>;
}

/**
 * Runs fn as a nested step of the transaction manager belongs to: a SAVEPOINT, retried in place on lock
 * timeouts; a deadlock or serialization failure goes to retryTransaction, which redoes the whole unit.
 * @example await step(manager, (m) => m.delete(Hold, { id: 7 }), { lockTimeoutMs: 500 });
 */
export function step<T>(
  manager: EntityManager,
  fn: (manager: EntityManager, attempt: AttemptContext) => T | PromiseLike<T>,
  options?: RunOptions<never>,
): Promise<T> {
  return steps.step(manager, fn, options);
}

/** Sessions over QueryRunners of the DataSource; a connection in an unknown state is released with an error, so pg's pool drops it. */
function typeormSource(dataSource: DataSource): SessionSource {
  const sidecar = async (sql: string, params: readonly unknown[]): Promise<OrmQueryResult> => {
    const rows = (await dataSource.query(sql, [...params])) as unknown;
    return Array.isArray(rows) ? { rows, rowCount: rows.length } : { rows: [], rowCount: 0 };
  };
  return {
    async acquire() {
      const queryRunner = dataSource.createQueryRunner();
      const client = (await queryRunner.connect()) as PgClient;
      // One listener per client, for whichever runner holds it now (pool clients are reused).
      if (!runnerOf.has(client))
        client.on?.('error', (error) => connectionErrors.set(runnerOf.get(client)!, error));
      runnerOf.set(client, queryRunner);
      return pgClientSession(
        client,
        queryRunner,
        (sql, params) => dataSource.logger.logQuery(sql, params, queryRunner),
        sidecar,
      );
    },
    async release(session) {
      const queryRunner = session.raw as QueryRunner & {
        releasePostgresConnection?(error?: unknown): Promise<void>;
      };
      (queryRunner as { isTransactionActive: boolean }).isTransactionActive = false;
      if (
        (session.destroyed || !isReusable(session)) &&
        queryRunner.releasePostgresConnection !== undefined
      ) {
        // pg's pool destroys a client released with an error instead of handing it out again.
        await queryRunner.releasePostgresConnection(new Error('dbop: connection state unknown'));
        return;
      }
      await queryRunner.release();
    },
  };
}

/**
 * Marks the runner in dbop's transaction (so TypeORM opens none of its own) and guards it: its own
 * start, commit and rollback are refused, as are statements that would end the transaction or that an
 * abandoned attempt (timed out, aborted) still sends.
 */
function guard(queryRunner: QueryRunner, session: Session, attempt: AttemptContext): void {
  (queryRunner as { isTransactionActive: boolean }).isTransactionActive = true;
  const refuse = (what: string) => () =>
    Promise.reject(
      new DbopError(
        'DBOP_TRANSACTION_BOUNDARY',
        `${what} inside a transaction dbop owns would begin, commit or end it behind dbop's back; dbop begins and commits it (use step() for a nested savepoint)`,
      ),
    );
  const target = queryRunner as unknown as Record<string, unknown>;
  target.startTransaction = refuse('startTransaction()');
  target.commitTransaction = refuse('commitTransaction()');
  target.rollbackTransaction = refuse('rollbackTransaction()');
  const query = Object.getPrototypeOf(queryRunner).query as (...args: unknown[]) => Promise<unknown>;
  target.query = function (this: QueryRunner, sql: string, parameters?: unknown[], structured?: boolean) {
    try {
      if (queryRunner.isReleased && connectionErrors.has(queryRunner))
        throw connectionErrors.get(queryRunner);
      checkStatement(sql, session, attempt);
    } catch (error) {
      return Promise.reject(error);
    }
    return ormStatement(session, () => query.call(queryRunner, sql, parameters, structured));
  };
}
