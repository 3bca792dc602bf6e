import { entityKind } from 'drizzle-orm';
import type { AttemptContext } from '../../core/attempt.js';
import { isDbopError } from '../../core/errors.js';
import { isReusable, type Session, type SessionSource } from '../../core/session.js';
import type { RunOptions } from '../../runner/runner-options.js';
import { checkStatement, HandleSteps } from '../shared/handle-steps.js';
import { type OrmQueryResult, ormConnectionSession, ormStatement } from '../shared/orm-connection-session.js';
import { type OrmTransactionOptions, splitOrmOptions } from '../shared/orm-transaction-options.js';
import { inSqliteCallback } from '../shared/sqlite-connection.js';
import {
  betterSqliteDrizzleSource,
  betterSqliteTransaction,
  isBetterSqliteDrizzle,
} from './drizzle-better-sqlite3.js';
import { isMysql2Drizzle, mysql2Source, mysql2Transaction } from './drizzle-mysql2.js';

/** Options of {@link retryTransaction} (dbop/drizzle). */
export type DrizzleTransactionOptions = OrmTransactionOptions;

/** A Drizzle database: what its transaction() passes to the callback is the handle fn receives. */
export interface DrizzleDatabaseLike {
  readonly transaction: (...args: never[]) => unknown;
}

/** The transaction handle Drizzle's own `db.transaction()` would pass for this database. */
export type DrizzleTransactionOf<D extends DrizzleDatabaseLike> = D['transaction'] extends (
  fn: (tx: infer Tx) => Promise<unknown>,
  ...rest: never[]
) => unknown
  ? Tx
  : never;

/** The parts of a node-postgres Drizzle database dbop reads (Drizzle's session, dialect and pool). */
interface NodePgDrizzle {
  readonly $client: PgPool;
  readonly dialect: unknown;
  readonly session: {
    readonly schema: unknown;
    readonly options: { readonly logger?: { logQuery(query: string, params: unknown[]): void } };
  };
}

interface PgPool {
  connect(): Promise<PgClient>;
  query(text: string, params?: unknown[]): Promise<PgResult>;
}

interface PgClient {
  query(config: unknown, params?: unknown): Promise<PgResult>;
  release(destroy?: boolean): void;
  readonly processID?: number;
  readonly _queryable?: boolean;
  readonly _ending?: boolean;
  on?(event: 'error', listener: () => void): unknown;
}

interface PgResult {
  readonly rows: Record<string, unknown>[];
  readonly rowCount: number | null;
  readonly command?: string;
}

const steps = new HandleSteps();
const watched = new WeakSet<object>();

/**
 * Runs fn as one transaction of dbop's on a connection of the database's own node-postgres pool
 * (`db.$client`; on better-sqlite3 its one connection, a transaction at a time), retried as a whole on deadlocks, serialization failures and lost connections. fn
 * receives Drizzle's own transaction handle; dbop sends BEGIN and COMMIT (Drizzle's logger sees them),
 * verifies a COMMIT whose connection was lost, and refuses statements that would end its transaction.
 * @example
 * await retryTransaction(db, async (tx) => {
 *   await tx.update(account).set({ balance: sql`${account.balance} - 10` }).where(eq(account.id, 1));
 * }, { isolationLevel: 'serializable' });
 */
export function retryTransaction<D extends DrizzleDatabaseLike, T>(
  db: D,
  fn: (tx: DrizzleTransactionOf<D>, attempt: AttemptContext) => T | PromiseLike<T>,
  options?: DrizzleTransactionOptions,
): Promise<T> {
  let split: ReturnType<typeof splitOrmOptions>;
  const drizzle = db as unknown as NodePgDrizzle;
  try {
    split = splitOrmOptions(options, 'retryTransaction()');
    if (isMysql2Drizzle(drizzle)) {
      return attempts(split, mysql2Source(drizzle, split.verifyCommits), fn, (session, attempt) =>
        mysql2Transaction(drizzle, session, attempt),
      );
    }
    if (isBetterSqliteDrizzle(drizzle)) {
      return attempts(split, betterSqliteDrizzleSource(drizzle), fn, (session, attempt) =>
        betterSqliteTransaction(drizzle, session, attempt),
      );
    }
    if (!isNodePgDrizzle(drizzle)) {
      throw new TypeError(
        'dbop/drizzle runs on Drizzle over a node-postgres Pool, a mysql2 pool (drizzle({ client: pool })) or a better-sqlite3 Database',
      );
    }
  } catch (error) {
    return Promise.reject(error);
  }
  return nodePgAttempts(drizzle, split, fn as (tx: unknown, attempt: AttemptContext) => T | PromiseLike<T>);
}

/** Drizzle over node-postgres; its session classes are loaded on first use, as they import pg. */
async function nodePgAttempts<T>(
  drizzle: NodePgDrizzle,
  { runner, transaction }: ReturnType<typeof splitOrmOptions>,
  fn: (tx: unknown, attempt: AttemptContext) => T | PromiseLike<T>,
): Promise<T> {
  const { NodePgSession, NodePgTransaction } = await import('drizzle-orm/node-postgres/session');
  return runner.transaction(
    nodePgSource(drizzle),
    (session, attempt) => {
      const client = guardedClient(session.raw as PgClient, session, attempt);
      const drizzleSession = new NodePgSession(
        client as never,
        drizzle.dialect as never,
        drizzle.session.schema as never,
        drizzle.session.options as never,
      );
      const tx = new NodePgTransaction(
        drizzle.dialect as never,
        drizzleSession,
        drizzle.session.schema as never,
      );
      steps.own(tx, runner, session);
      return ownErrors(() => fn(tx, attempt));
    },
    transaction,
  ) as Promise<T>;
}

/** runner.transaction over source, fn receiving the handle tx() builds on each attempt's session. */
function attempts<Tx, T>(
  { runner, transaction }: ReturnType<typeof splitOrmOptions>,
  source: SessionSource,
  fn: (tx: Tx, attempt: AttemptContext) => T | PromiseLike<T>,
  tx: (session: Session, attempt: AttemptContext) => object,
): Promise<T> {
  return runner.transaction(
    source,
    (session, attempt) => {
      const handle = tx(session, attempt);
      steps.own(handle, runner, session);
      return ownErrors(() => inSqliteCallback(session, () => fn(handle as Tx, attempt)));
    },
    transaction,
  ) as Promise<T>;
}

/**
 * Runs fn as a nested step of the transaction tx belongs to: a SAVEPOINT, retried in place on lock
 * timeouts; a deadlock or serialization failure goes to retryTransaction, which redoes the whole unit.
 * @example await step(tx, (t) => t.delete(hold).where(eq(hold.id, 7)), { lockTimeoutMs: 500 });
 */
export function step<Tx extends object, T>(
  tx: Tx,
  fn: (tx: Tx, attempt: AttemptContext) => T | PromiseLike<T>,
  options?: RunOptions<never>,
): Promise<T> {
  return steps.step(tx, fn, options);
}

/** Sessions over clients of the database's pg Pool; one in an unknown state is destroyed by the pool. */
/** True for a Drizzle database over a node-postgres Pool, told by Drizzle's own entity kind (no pg import). */
function isNodePgDrizzle(drizzle: NodePgDrizzle): boolean {
  const kind = (drizzle.session?.constructor as { [entityKind]?: string } | undefined)?.[entityKind];
  return kind === 'NodePgSession' && typeof drizzle.$client?.connect === 'function';
}

function nodePgSource(db: NodePgDrizzle): SessionSource {
  const pool = db.$client;
  const logger = db.session.options.logger;
  const sidecar = async (sql: string, params: readonly unknown[]) =>
    shape(await pool.query(sql, [...params]));
  return {
    async acquire() {
      const client = await pool.connect();
      // A backend killed while the client is checked out emits 'error': unhandled, it crashes the process.
      if (!watched.has(client)) {
        watched.add(client);
        client.on?.('error', () => undefined);
      }
      return ormConnectionSession({
        dialect: 'postgres',
        raw: client,
        async run(sql, params) {
          logger?.logQuery(sql, [...params]);
          return shape(await client.query(sql, [...params]));
        },
        sidecar,
        serverId: client.processID,
        isBroken: () => client._queryable === false || client._ending === true,
      });
    },
    async release(session) {
      // release(true) has the pool destroy the client instead of handing it out again.
      (session.raw as PgClient).release(session.destroyed || !isReusable(session));
    },
  };
}

/**
 * Drizzle wraps whatever its client throws in DrizzleQueryError, dbop's own refusals (a boundary
 * statement, an abandoned attempt) included: those are dbop's to report, so they come out unwrapped.
 */
async function ownErrors<T>(body: () => T | PromiseLike<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    const cause = (error as { cause?: unknown } | null)?.cause;
    throw isDbopError(cause) ? cause : error;
  }
}

function shape(result: PgResult): OrmQueryResult {
  return { rows: result.rows, rowCount: result.rowCount ?? result.rows.length, command: result.command };
}

/**
 * The client Drizzle's transaction handle sends through: the pg client itself, refusing statements that
 * would end dbop's transaction and anything an abandoned attempt (timed out, aborted) still sends.
 */
function guardedClient(client: PgClient, session: Session, attempt: AttemptContext): PgClient {
  return Object.create(client, {
    query: {
      value(config: unknown, params?: unknown) {
        try {
          checkStatement(
            typeof config === 'string' ? config : (config as { text?: unknown } | null)?.text,
            session,
            attempt,
          );
        } catch (error) {
          return Promise.reject(error);
        }
        return ormStatement(session, () => client.query(config, params));
      },
    },
  }) as PgClient;
}
