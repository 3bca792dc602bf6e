import {
  CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Driver,
  Kysely,
  MysqlIntrospector,
  PostgresIntrospector,
  type QueryExecutor,
  type QueryResult,
  SqliteIntrospector,
  type Transaction,
} from 'kysely';
import type { AttemptContext } from '../../core/attempt.js';
import type { Session, SessionSource } from '../../core/session.js';
import type { RunOptions } from '../../runner/runner-options.js';
import { boundaryViolation } from '../../sessions/shared/transaction-boundary.js';
import { HandleSteps } from '../shared/handle-steps.js';
import { holdConnection } from '../shared/held-connection.js';
import {
  type OrmDialect,
  type OrmQueryResult,
  type OrmRun,
  ormConnectionSession,
} from '../shared/orm-connection-session.js';
import { type OrmTransactionOptions, splitOrmOptions } from '../shared/orm-transaction-options.js';

/** Options of {@link retryTransaction} (dbop/kysely). */
export type KyselyTransactionOptions = OrmTransactionOptions;

const steps = new HandleSteps();
const dialects = new WeakMap<object, Promise<OrmDialect>>();
const serverIds = new WeakMap<DatabaseConnection, number | undefined>();

/**
 * Runs fn as one transaction of dbop's on a connection of db's own pool, retried as a whole on
 * deadlocks, serialization failures and lost connections. dbop sends BEGIN and COMMIT (they show in
 * db's query log), verifies a COMMIT whose connection was lost, and refuses statements that would end
 * its transaction behind its back. fn receives Kysely's own `Transaction<DB>`.
 * @example
 * await retryTransaction(db, async (trx) => {
 *   await trx.updateTable('account').set({ balance: 0 }).where('id', '=', 1).execute();
 * }, { isolationLevel: 'serializable' });
 */
export function retryTransaction<DB, T>(
  db: Kysely<DB>,
  fn: (trx: Transaction<DB>, attempt: AttemptContext) => T | PromiseLike<T>,
  options?: KyselyTransactionOptions,
): Promise<T> {
  let split: ReturnType<typeof splitOrmOptions>;
  try {
    split = splitOrmOptions(options, 'retryTransaction()');
  } catch (error) {
    return Promise.reject(error);
  }
  const { runner, verifyCommits, transaction } = split;
  const executor = db.getExecutor();
  const source = kyselySource(db, executor, verifyCommits);
  return runner.transaction(
    source,
    (session, attempt) => {
      const attemptDb = attemptKysely<DB>(executor, session);
      return attemptDb.transaction().execute(async (trx) => {
        steps.own(trx, runner, session);
        return fn(trx, attempt);
      });
    },
    transaction,
  ) as Promise<T>;
}

/**
 * Runs fn as a nested step of the transaction trx belongs to: a SAVEPOINT, retried in place on lock
 * timeouts; a deadlock or serialization failure goes to retryTransaction, which redoes the whole unit.
 * @example await step(trx, (t) => t.deleteFrom('hold').where('id', '=', 7).execute(), { lockTimeoutMs: 500 });
 */
export function step<DB, T>(
  trx: Transaction<DB>,
  fn: (trx: Transaction<DB>, attempt: AttemptContext) => T | PromiseLike<T>,
  options?: RunOptions<never>,
): Promise<T> {
  return steps.step(trx, fn, options);
}

/** Sessions over connections of db's own pool, taken and given back through Kysely. */
function kyselySource(
  db: object,
  executor: QueryExecutor,
  verifyCommits: boolean,
): SessionSource<DatabaseConnection> {
  const held = new WeakMap<Session<DatabaseConnection>, () => Promise<void>>();
  const sidecar: OrmRun = (sql, params) =>
    executor.provideConnection((connection) => runOn(connection, sql, params));
  return {
    async acquire() {
      const dialect = await dialectOf(db, executor);
      const { connection, release } = await holdConnection<DatabaseConnection>((consumer) =>
        executor.provideConnection(consumer),
      );
      try {
        const id = await connectionIdOf(connection, dialect);
        const session = ormConnectionSession({
          dialect,
          raw: connection,
          run: (sql, params) => runOn(connection, sql, params),
          ...(dialect === 'sqlite' ? { busyTimeoutMs: id } : { sidecar, serverId: id }),
          verifyCommits,
          markerScope: db,
        });
        held.set(session, release);
        return session;
      } catch (error) {
        await release();
        throw error;
      }
    },
    async release(session) {
      // A session in an unknown state was destroyed (its backend ended), so Kysely's pool drops it.
      await held.get(session)?.();
    },
  };
}

async function runOn(
  connection: DatabaseConnection,
  sql: string,
  params: readonly unknown[],
): Promise<OrmQueryResult> {
  const result = await connection.executeQuery<Record<string, unknown>>(CompiledQuery.raw(sql, [...params]));
  const rows = result.rows;
  // Kysely's Postgres connection reports COMMIT and ROLLBACK as a row with the command tag.
  const tag = rows.length === 1 ? rows[0]?.command : undefined;
  const command = tag === 'COMMIT' || tag === 'ROLLBACK' ? tag : undefined;
  const affected = result.numAffectedRows ?? result.numChangedRows;
  return {
    rows,
    rowCount: affected === undefined ? rows.length : Number(affected),
    command,
    original: result,
  };
}

/** The backend, from the adapter Kysely was configured with; MySQL or MariaDB from the server's version. */
function dialectOf(db: object, executor: QueryExecutor): Promise<OrmDialect> {
  let known = dialects.get(db);
  if (known === undefined) {
    known = detect(executor);
    dialects.set(db, known);
    known.catch(() => dialects.delete(db));
  }
  return known;
}

async function detect(executor: QueryExecutor): Promise<OrmDialect> {
  const adapter = executor.adapter.constructor.name;
  if (/^Postgres/.test(adapter)) return 'postgres';
  if (/^Sqlite/.test(adapter)) return 'sqlite';
  if (/^Mysql/.test(adapter)) {
    const { rows } = await executor.provideConnection((c) => runOn(c, 'SELECT VERSION() AS v', []));
    return /mariadb/i.test(String(rows[0]?.v)) ? 'mariadb' : 'mysql';
  }
  throw new TypeError(
    `dbop/kysely runs on Kysely's Postgres, MySQL and SQLite adapters, not on ${adapter || 'this adapter'}`,
  );
}

/**
 * Read once per connection (Kysely keeps one object per connection): the server's id of it (to cancel
 * or end it from another connection), or SQLite's own busy timeout (restored after each step).
 */
async function connectionIdOf(
  connection: DatabaseConnection,
  dialect: OrmDialect,
): Promise<number | undefined> {
  if (serverIds.has(connection)) return serverIds.get(connection);
  const sql =
    dialect === 'postgres'
      ? 'SELECT pg_backend_pid() AS id'
      : dialect === 'sqlite'
        ? 'SELECT timeout AS id FROM pragma_busy_timeout'
        : 'SELECT CONNECTION_ID() AS id';
  const { rows } = await runOn(connection, sql, []);
  const id = Number(rows[0]?.id);
  const known = Number.isSafeInteger(id) && id >= 0 ? id : undefined;
  serverIds.set(connection, known);
  return known;
}

/**
 * A Kysely over one attempt's session: db's adapter, compiler and plugins, and a driver whose one
 * connection sends every statement through the session (so dbop sees it, and the user's db logs it).
 * Its transaction() begins and commits nothing: dbop already began, and commits once fn resolves.
 */
function attemptKysely<DB>(executor: QueryExecutor, session: Session<DatabaseConnection>): Kysely<DB> {
  const bare = executor.withoutPlugins();
  const connection: DatabaseConnection = {
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      const refused = boundaryViolation(query.sql, session.dialect);
      if (refused !== undefined) throw refused;
      const result = (await session.query(query.sql, query.parameters)) as OrmQueryResult;
      return result.original as QueryResult<R>;
    },
    streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
      const refused = boundaryViolation(query.sql, session.dialect);
      if (refused !== undefined) throw refused;
      return session.raw.streamQuery<R>(query, chunkSize);
    },
  };
  const driver: Driver = {
    async init() {},
    acquireConnection: async () => connection,
    async beginTransaction() {},
    async commitTransaction() {},
    async rollbackTransaction() {},
    async releaseConnection() {},
    async destroy() {},
  };
  return new Kysely<DB>({
    dialect: {
      createAdapter: () => executor.adapter,
      createDriver: () => driver,
      createQueryCompiler: () => ({ compileQuery: (node, queryId) => bare.compileQuery(node, queryId) }),
      createIntrospector: (db): DatabaseIntrospector => introspector(session.dialect, db),
    },
    plugins: [...executor.plugins],
  });
}

function introspector(dialect: string, db: Kysely<unknown>): DatabaseIntrospector {
  if (dialect === 'postgres') return new PostgresIntrospector(db);
  if (dialect === 'sqlite') return new SqliteIntrospector(db);
  return new MysqlIntrospector(db);
}
