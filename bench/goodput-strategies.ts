/**
 * The ways a user might make a contended transfer survive serialization failures and deadlocks, each over
 * the same pool of hand-driven connections: the goodput bench runs them side by side.
 */
import { setTimeout as delay } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import pRetry from 'p-retry';
import pg from 'pg';
import { createDatabase, type Database, DbOpRunner, isTransient, type Session } from '../src/index.js';
import { mysql2Session } from '../src/sessions/mysql2/index.js';
import { pgPoolSource } from '../src/sessions/pg/index.js';

export type GoodputBackend = 'postgres' | 'mariadb';

/** One transfer: both rows locked in a random order, then two UPDATEs. */
export interface TransferPlan {
  readonly first: number;
  readonly second: number;
  readonly from: number;
  readonly to: number;
}

/** A strategy: runs one transfer to its end (resolves) or gives up (rejects); `signal` ends the round. */
export type Strategy = (plan: TransferPlan, signal: AbortSignal) => Promise<void>;

/** A connection a hand-written strategy drives: just query and release. */
interface RawConnection {
  query(sql: string, params?: readonly unknown[]): Promise<unknown>;
  release(destroy: boolean): void;
}

/** Everything one backend needs to run every strategy; close() ends its pools. */
export interface Bank {
  readonly backend: GoodputBackend;
  readonly strategies: Readonly<Record<string, Strategy>>;
  /**
   * Reference rows, not strategies a user would pick blind: the hand-written transaction behind a fixed limit
   * chosen offline for this very workload, to show what goodput is reachable at all.
   */
  readonly ceilings: Readonly<Record<string, Strategy>>;
  /** One connection doing transfers one after another. */
  readonly serial: Strategy;
  /** The default Database's limiter, to show where it settled. */
  limiter(): unknown;
  /**
   * Cancels the statements waiting for a row lock on the bench's table, so a round's abort does not wait
   * for Postgres's deadlock_timeout (1 s) to free a waiter whose unit the signal has already ended. Nothing
   * on MariaDB: InnoDB finds a deadlock at once, and any other wait ends when its holder rolls back.
   */
  cancelLockWaits(): Promise<void>;
  /** Sum of the balances: must never change. */
  total(): Promise<number>;
  close(): Promise<void>;
}

export const accounts = 10;
const pool = 10;
/** Every ceiling row's name starts with this, so the bench can keep them out of "the others". */
export const ceilingPrefix = 'ceiling:';

/** A plain counting semaphore: at most `size` holders; a waiter leaves the queue when `signal` aborts. */
class Semaphore {
  #free: number;
  readonly #waiters: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  async acquire(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.#free > 0) {
      this.#free -= 1;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const grant = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        this.#waiters.splice(this.#waiters.indexOf(grant), 1);
        reject(signal.reason);
      };
      this.#waiters.push(grant);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Hands the permit straight to the oldest waiter, so a newcomer cannot overtake the queue. */
  release(): void {
    const next = this.#waiters.shift();
    if (next === undefined) this.#free += 1;
    else next();
  }
}

/** Opens pools on `url` (the table must exist) and builds every strategy over them. */
export async function openBank(
  backend: GoodputBackend,
  url: string,
  table: string,
  dbopOptions: { readonly defaultLockTimeoutMs?: number } = {},
): Promise<Bank> {
  const pgPool = backend === 'postgres' ? new pg.Pool({ connectionString: url, max: pool }) : undefined;
  const myPool =
    backend === 'mariadb'
      ? mysql.createPool({ uri: url.replace(/^mariadb:/, 'mysql:'), connectionLimit: pool })
      : undefined;
  const serialPool =
    backend === 'postgres'
      ? new pg.Pool({ connectionString: url, max: 1 })
      : mysql.createPool({ uri: url.replace(/^mariadb:/, 'mysql:'), connectionLimit: 1 });
  // Its own connection, so a cancel never queues behind the units it is meant to free.
  const adminPool = backend === 'postgres' ? new pg.Pool({ connectionString: url, max: 1 }) : undefined;
  const p = backend === 'postgres' ? (i: number) => `$${i}` : () => '?';
  const begin = backend === 'postgres' ? 'BEGIN ISOLATION LEVEL SERIALIZABLE' : 'BEGIN';
  const lock = `SELECT balance FROM ${table} WHERE id = ${p(1)} FOR UPDATE`;
  const debit = `UPDATE ${table} SET balance = balance - 1 WHERE id = ${p(1)}`;
  const credit = `UPDATE ${table} SET balance = balance + 1 WHERE id = ${p(1)}`;

  const connect = async (from: pg.Pool | mysql.Pool): Promise<RawConnection> => {
    if (from instanceof pg.Pool) {
      const client = await from.connect();
      return {
        query: (sql, params) => client.query(sql, params as unknown[]),
        release: (d) => client.release(d),
      };
    }
    const connection = await from.getConnection();
    return {
      query: (sql, params) => connection.query(sql, params as unknown[]),
      release: (d) => (d ? connection.destroy() : connection.release()),
    };
  };
  const handPool = (pgPool ?? myPool)!;
  // The simplest correct hand-written transaction: BEGIN, the transfer, COMMIT; ROLLBACK on any error.
  // `signal` (the round's end) is checked between statements, so an aborted round does not wait for the
  // rest of a transfer nobody will count.
  const handWritten = async (
    plan: TransferPlan,
    signal: AbortSignal | undefined,
    from: pg.Pool | mysql.Pool = handPool,
    beginSql: string = begin,
  ): Promise<void> => {
    signal?.throwIfAborted();
    const connection = await connect(from);
    let broken = false;
    const query = (sql: string, params?: readonly unknown[]): Promise<unknown> => {
      signal?.throwIfAborted();
      return connection.query(sql, params);
    };
    try {
      await query(beginSql);
      await query(lock, [plan.first]);
      await query(lock, [plan.second]);
      await query(debit, [plan.from]);
      await query(credit, [plan.to]);
      await query('COMMIT');
    } catch (error) {
      await connection.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      connection.release(broken);
    }
  };
  // A reference, not a strategy: the hand-written transaction behind a fixed limit picked offline for this
  // workload, retried at once on a transient error until it commits or the round ends.
  const ceiling = (size: number, beginSql: string = begin): Strategy => {
    const semaphore = new Semaphore(size);
    return async (plan, signal) => {
      await semaphore.acquire(signal);
      try {
        for (;;) {
          try {
            return await handWritten(plan, signal, handPool, beginSql);
          } catch (error) {
            if (!isTransient(error) || signal.aborted) throw error;
          }
        }
      } finally {
        semaphore.release();
      }
    };
  };
  const ceilings: Record<string, Strategy> = {
    [`${ceilingPrefix} hand-written, fixed limit 1 (tuned offline)`]: ceiling(1),
    [`${ceilingPrefix} hand-written, fixed limit 4 (tuned offline)`]: ceiling(4),
    // Postgres finds a deadlock only after deadlock_timeout (1 s): a short lock_timeout, sent in the same
    // round trip as BEGIN, breaks the wait sooner.
    ...(backend === 'postgres'
      ? {
          [`${ceilingPrefix} hand-written, fixed limit 2, lock_timeout 20ms (tuned offline)`]: ceiling(
            2,
            `${begin}; SET LOCAL lock_timeout = '20ms'`,
          ),
        }
      : {}),
  };
  const isSerialization = (error: unknown): boolean => {
    const e = error as { code?: unknown; sqlState?: unknown };
    return e.code === '40001' || e.sqlState === '40001';
  };

  // dbop on the driver the hand-written strategies use (mysql2 for mysql://), so the rows compare retry
  // strategies, not drivers; the mariadb connector (mariadb://) has a row of its own.
  const dbUrl = backend === 'postgres' ? url : url.replace(/^mariadb:/, 'mysql:');
  const isolation = backend === 'postgres' ? ({ isolationLevel: 'serializable' } as const) : {};
  const db: Database = await createDatabase({ url: dbUrl, max: pool, ...dbopOptions });
  // The same Database without admission control, to show what the limiter adds.
  const unlimited: Database = await createDatabase({ url: dbUrl, max: pool, ...dbopOptions, limiter: false });
  const connector: Database | undefined =
    backend === 'mariadb'
      ? await createDatabase({ url: url.replace(/^mysql:/, 'mariadb:'), max: pool, ...dbopOptions })
      : undefined;
  const transfer =
    (database: Database): Strategy =>
    (plan, signal) =>
      database.transaction(
        async (conn) => {
          await conn.execute(lock, [plan.first]);
          await conn.execute(lock, [plan.second]);
          await conn.execute(debit, [plan.from]);
          await conn.execute(credit, [plan.to]);
        },
        { ...isolation, signal },
      );
  const runner = new DbOpRunner();
  const source =
    backend === 'postgres'
      ? pgPoolSource(pgPool!)
      : {
          acquire: async (): Promise<Session> =>
            mysql2Session(await myPool!.getConnection(), { flavor: 'mariadb', sidecar: myPool! }),
          release: async (session: Session): Promise<void> => {
            const raw = session.raw as mysql.PoolConnection;
            if (session.destroyed || session.inTransaction()) raw.destroy();
            else raw.release();
          },
        };

  const strategies: Record<string, Strategy> = {
    'dbop createDatabase().transaction (default)': transfer(db),
    'dbop createDatabase({ limiter: false })': transfer(unlimited),
    ...(connector === undefined
      ? {}
      : { 'dbop createDatabase(mariadb://), mariadb connector': transfer(connector) }),
    'dbop DbOpRunner.transaction(pool source)': (plan, signal) =>
      runner.transaction(
        source as never,
        async (session: Session) => {
          await session.query(lock, [plan.first]);
          await session.query(lock, [plan.second]);
          await session.query(debit, [plan.from]);
          await session.query(credit, [plan.to]);
        },
        { ...isolation, signal },
      ),
    'p-retry defaults, shouldRetry isTransient': (plan, signal) =>
      pRetry(() => handWritten(plan, signal), { shouldRetry: ({ error }) => isTransient(error), signal }),
    'immediate retry loop (10 tries)': async (plan, signal) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await handWritten(plan, signal);
        } catch (error) {
          if (attempt >= 10 || !isTransient(error) || signal.aborted) throw error;
        }
      }
    },
    'CockroachDB sample (40001 only, n x 100 ms)': async (plan, signal) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await handWritten(plan, signal);
        } catch (error) {
          if (attempt > 5 || !isSerialization(error)) throw error;
          await delay(attempt * 100, undefined, { signal });
        }
      }
    },
    'Sequelize-style (5 tries, 100 ms x 1.1^n)': async (plan, signal) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await handWritten(plan, signal);
        } catch (error) {
          if (attempt >= 5 || !isTransient(error)) throw error;
          await delay(100 * 1.1 ** attempt, undefined, { signal });
        }
      }
    },
  };
  return {
    backend,
    strategies,
    ceilings,
    serial: (plan, signal) => handWritten(plan, signal, serialPool),
    limiter: () => db.stats().limiter,
    async cancelLockWaits(): Promise<void> {
      await adminPool?.query(
        `SELECT pg_cancel_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'
           AND query LIKE '%' || $1 || '%'`,
        [table],
      );
    },
    async total(): Promise<number> {
      const connection = await connect(handPool);
      try {
        const result = (await connection.query(`SELECT SUM(balance) AS total FROM ${table}`)) as
          | { rows: { total: string }[] }
          | [{ total: string }[]];
        const rows = Array.isArray(result) ? result[0] : result.rows;
        return Number(rows[0]!.total);
      } finally {
        connection.release(false);
      }
    },
    async close(): Promise<void> {
      await Promise.all([db.close(), unlimited.close(), connector?.close()]);
      await Promise.all([pgPool?.end(), myPool?.end(), serialPool.end(), adminPool?.end()]);
    },
  };
}

/** Creates (or resets) the bench's table of 10 accounts with 1000 each. */
export async function resetTable(backend: GoodputBackend, url: string, table: string): Promise<void> {
  const rows = Array.from({ length: accounts }, (_, i) => `(${i}, 1000)`).join(', ');
  if (backend === 'postgres') {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(`DROP TABLE IF EXISTS ${table}`);
      await client.query(`CREATE TABLE ${table} (id int PRIMARY KEY, balance bigint NOT NULL)`);
      await client.query(`INSERT INTO ${table} VALUES ${rows}`);
    } finally {
      await client.end();
    }
    return;
  }
  const connection = await mysql.createConnection({ uri: url.replace(/^mariadb:/, 'mysql:') });
  try {
    await connection.query(`DROP TABLE IF EXISTS ${table}`);
    await connection.query(
      `CREATE TABLE ${table} (id int PRIMARY KEY, balance bigint NOT NULL) ENGINE=InnoDB`,
    );
    await connection.query(`INSERT INTO ${table} VALUES ${rows}`);
  } finally {
    await connection.end();
  }
}
