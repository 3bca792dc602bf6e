import { EventEmitter } from 'node:events';
import { type Sequelize, Transaction } from 'sequelize';
import type { AttemptContext } from '../../core/attempt.js';
import { DbopError, isDbopError } from '../../core/errors.js';
import { type IsolationLevel, isReusable, type Session, type SessionSource } from '../../core/session.js';
import type { RunOptions } from '../../runner/runner-options.js';
import { checkStatement, HandleSteps } from '../shared/handle-steps.js';
import { ormStatement, pgClientSession } from '../shared/orm-connection-session.js';
import { type OrmTransactionOptions, splitOrmOptions } from '../shared/orm-transaction-options.js';
import { inSqliteCallback } from '../shared/sqlite-connection.js';
import {
  type ConnectionManager,
  type MysqlFamilyConnection,
  sequelizeMysqlSource,
} from './sequelize-mysql.js';
import { type NodeSqliteDatabase, sequelizeSqliteSource } from './sequelize-sqlite.js';

/** Options of {@link retryTransaction} (dbop/sequelize). */
export type SequelizeTransactionOptions = OrmTransactionOptions;

/** The node-postgres client Sequelize's connection manager hands out, as far as dbop reads it. */
interface PgClient {
  query(
    text: unknown,
    params?: unknown,
  ): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null; command?: string }>;
  readonly processID?: number;
  readonly _queryable?: boolean;
  readonly _ending?: boolean;
  uuid?: unknown;
}

const supported = new Set(['postgres', 'mysql', 'mariadb', 'sqlite']);
const steps = new HandleSteps();
const isolationNames: Readonly<Record<string, IsolationLevel>> = {
  'READ UNCOMMITTED': 'read uncommitted',
  'READ COMMITTED': 'read committed',
  'REPEATABLE READ': 'repeatable read',
  SERIALIZABLE: 'serializable',
};

/**
 * Runs fn as one transaction of dbop's on a connection of Sequelize's own pool, retried as a whole on
 * deadlocks, serialization failures and lost connections. fn receives a Sequelize `Transaction` bound to
 * that connection (pass it as `{ transaction: t }`, as usual); dbop sends BEGIN and COMMIT (Sequelize's
 * `logging` sees them), the isolation level defaults to the Sequelize instance's, `t.commit()` and
 * `t.rollback()` are refused, and `t.afterCommit` hooks run once dbop committed. With `Sequelize.useCLS()`,
 * t is the namespace's transaction inside fn, as in Sequelize's own `transaction(callback)`. Dialects
 * 'postgres', 'mysql' (mysql2) and 'mariadb' (the mariadb connector), where the flavour (MySQL or MariaDB)
 * is read from the server's version, and 'sqlite' (node-sqlite3: the Database Sequelize keeps for the
 * storage, one transaction at a time, statements of others on it refused meanwhile).
 * @example
 * await retryTransaction(sequelize, async (t) => {
 *   await Account.increment('balance', { by: -10, where: { id: 1 }, transaction: t });
 * });
 */
export async function retryTransaction<T>(
  sequelize: Sequelize,
  fn: (transaction: Transaction, attempt: AttemptContext) => T | PromiseLike<T>,
  options?: SequelizeTransactionOptions,
): Promise<T> {
  const { runner, verifyCommits, transaction } = splitOrmOptions(options, 'retryTransaction()');
  const dialect = sequelize.getDialect();
  if (!supported.has(dialect)) {
    throw new TypeError(
      `dbop/sequelize runs on Sequelize's 'postgres', 'mysql', 'mariadb' and 'sqlite' dialects, not on '${dialect}' yet`,
    );
  }
  const settings = (sequelize as unknown as { options: { isolationLevel?: unknown; logging?: unknown } })
    .options;
  const configured = isolationNames[String(settings.isolationLevel ?? '')];
  let last: Transaction | undefined;
  try {
    const result = (await runner.transaction(
      sequelizeSource(sequelize, dialect, verifyCommits),
      async (session, attempt) => {
        const t = boundTransaction(sequelize, session, attempt);
        last = t;
        steps.own(t, runner, session);
        try {
          return await inSqliteCallback(session, () => inCls(sequelize, t, () => fn(t, attempt)));
        } catch (error) {
          // After a deadlock Sequelize marks t finished itself and refuses its later statements with a plain
          // Error ("rollback has been called on this transaction"): what ended the transaction is the cause.
          if ((t as { finished?: string }).finished === 'rollback' && session.endedBy !== undefined) {
            throw session.endedBy;
          }
          // Sequelize wraps what the connection throws (dbop's refusals too) in its DatabaseError.
          const inner = (error as { parent?: unknown } | null)?.parent;
          throw isDbopError(inner) ? inner : error;
        }
      },
      configured === undefined || transaction.isolationLevel !== undefined
        ? transaction
        : { ...transaction, isolationLevel: configured },
    )) as T;
    if (last !== undefined) await committed(last);
    return result;
  } finally {
    if (last !== undefined) (last as { finished?: string }).finished ??= 'rollback';
  }
}

/**
 * Runs fn as a nested step of the transaction t: a SAVEPOINT, retried in place on lock timeouts; a
 * deadlock or serialization failure goes to retryTransaction, which redoes the whole unit.
 * @example await step(t, (tt) => Hold.destroy({ where: { id: 7 }, transaction: tt }), { lockTimeoutMs: 500 });
 */
export function step<T>(
  t: Transaction,
  fn: (t: Transaction, attempt: AttemptContext) => T | PromiseLike<T>,
  options?: RunOptions<never>,
): Promise<T> {
  return steps.step(t, fn, options);
}

function sequelizeSource(sequelize: Sequelize, dialect: string, verifyCommits: boolean): SessionSource {
  const manager = (sequelize as unknown as { connectionManager: ConnectionManager<never> }).connectionManager;
  const logging = (sequelize as unknown as { options: { logging?: unknown } }).options.logging;
  const log = (sql: string) => {
    if (typeof logging === 'function') (logging as (sql: string) => void)(`Executing (dbop): ${sql}`);
  };
  if (dialect === 'sqlite')
    return sequelizeSqliteSource(manager as ConnectionManager<NodeSqliteDatabase>, log);
  if (dialect !== 'postgres') {
    return sequelizeMysqlSource(
      manager as ConnectionManager<MysqlFamilyConnection>,
      dialect === 'mariadb',
      verifyCommits,
      log,
    );
  }
  const pgManager = manager as ConnectionManager<PgClient>;
  const sidecar = async (sql: string, params: readonly unknown[]) => {
    const rows = (await sequelize.query(sql, { bind: [...params], type: 'SELECT', raw: true })) as Record<
      string,
      unknown
    >[];
    return { rows, rowCount: rows.length };
  };
  return {
    async acquire() {
      const client = await pgManager.getConnection({});
      return pgClientSession(client, client, log, sidecar);
    },
    async release(session) {
      const client = session.raw as PgClient;
      client.uuid = undefined;
      if (session.destroyed || !isReusable(session)) await pgManager.destroyConnection(client);
      else await pgManager.releaseConnection(client);
    },
  };
}

type Callback = (this: unknown, error: unknown, result?: unknown) => void;

/** A Sequelize Transaction on the session's connection: no BEGIN of its own, its commit and rollback refused. */
function boundTransaction(sequelize: Sequelize, session: Session, attempt: AttemptContext): Transaction {
  const t = new Transaction(sequelize, {});
  // pg: query(sql) or query(sql, params, callback); mysql2: query({ sql }, callback) or execute(sql,
  // params, callback), and Sequelize calls setMaxListeners on what they return; mariadb: query(sql, params);
  // node-sqlite3: run, all, get or exec(sql, params, callback), the callback reading its `this` (changes).
  const connection = session.raw as Record<string, (...args: unknown[]) => unknown>;
  // Every statement goes through dbop's session (ormStatement): one after the attempt was abandoned is
  // refused, and a deadlock that ended the transaction on the server is recorded, so COMMIT reports it.
  const guard = (method: string) => ({
    value(text: unknown, ...rest: unknown[]) {
      const callback = typeof rest.at(-1) === 'function' ? (rest.pop() as Callback) : undefined;
      const sent = (async () => {
        const statement = text as { text?: unknown; sql?: unknown } | null;
        checkStatement(
          typeof text === 'string' ? text : (statement?.text ?? statement?.sql),
          session,
          attempt,
        );
        return ormStatement(session, () =>
          callback === undefined
            ? Promise.resolve(connection[method]!.call(connection, text, ...rest))
            : new Promise<[unknown, unknown]>((resolve, reject) => {
                connection[method]!.call(
                  connection,
                  text,
                  ...rest,
                  function (this: unknown, error: unknown, result: unknown) {
                    if (error) reject(error);
                    else resolve([this, result]);
                  },
                );
              }),
        );
      })();
      if (callback === undefined) return sent;
      (sent as Promise<[unknown, unknown]>).then(
        ([self, result]) => callback.call(self, null, result),
        (error: unknown) => callback(error),
      );
      return new EventEmitter();
    },
  });
  const methods = sequelize.getDialect() === 'sqlite' ? ['run', 'all', 'get', 'exec'] : ['query', 'execute'];
  const guarded = Object.create(
    connection,
    Object.fromEntries(
      methods.filter((name) => typeof connection[name] === 'function').map((name) => [name, guard(name)]),
    ),
  ) as { uuid?: unknown };
  guarded.uuid = (t as unknown as { id: string }).id;
  const refuse = (what: string) => () =>
    Promise.reject(
      new DbopError(
        'DBOP_TRANSACTION_BOUNDARY',
        `${what} inside a transaction dbop owns would end it behind dbop's back; dbop commits it when the callback resolves`,
      ),
    );
  Object.assign(t, { connection: guarded, commit: refuse('t.commit()'), rollback: refuse('t.rollback()') });
  return t;
}

/** The namespace Sequelize.useCLS() set, as far as dbop uses it. */
interface ClsNamespace {
  run(fn: (context: unknown) => unknown): unknown;
  set(key: 'transaction', value: Transaction): void;
}

/**
 * Runs fn with t as the namespace's transaction when Sequelize.useCLS() set one, as Sequelize's own
 * transaction(callback) does: statements that name no transaction then run in dbop's, not in autocommit.
 */
function inCls<T>(sequelize: Sequelize, t: Transaction, fn: () => T | PromiseLike<T>): T | PromiseLike<T> {
  const namespace = (sequelize.constructor as { _cls?: ClsNamespace | null })._cls;
  if (namespace == null) return fn();
  let result!: T | PromiseLike<T>;
  namespace.run(() => {
    namespace.set('transaction', t);
    result = fn();
  });
  return result;
}

/** What Sequelize's commit() does after COMMIT: mark the transaction finished and run its afterCommit hooks. */
async function committed(t: Transaction): Promise<void> {
  const internals = t as unknown as {
    finished?: string;
    _afterCommitHooks?: ((t: Transaction) => unknown)[];
  };
  internals.finished = 'commit';
  for (const hook of internals._afterCommitHooks ?? []) await hook.call(t, t);
}
