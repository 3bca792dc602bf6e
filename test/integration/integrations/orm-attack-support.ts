import mysql from 'mysql2/promise';
import pg from 'pg';
import { expect } from 'vitest';
import type { AttemptContext } from '../../../src/core/attempt.js';
import { isDbopError } from '../../../src/core/errors.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { type Admin, sleep } from './orm-support.js';

/** One ORM as the attacks drive it: its retryTransaction and raw SQL through the handle. */
export interface AttackedOrm<H> {
  retry<T>(fn: (handle: H, attempt: AttemptContext) => Promise<T>, options?: object): Promise<T>;
  raw(handle: H, sql: string): Promise<unknown>;
}

/** What the user's code does after it caught the deadlock: its next statement, or return at once. */
export type AfterSwallow = 'carry on' | 'return';

/** The other side of the deadlock: a connection of its own, and how to make the ORM's side the victim. */
interface OtherSide {
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
  /** Statements the ORM's transaction runs before the deadlock. */
  readonly ormFirst: readonly string[];
  /** Statements the other side runs after BEGIN, before it takes the row lock on account 2. */
  readonly otherFirst: readonly string[];
  /** Counts the lock waits on the server. */
  readonly lockWaits: string;
}

/**
 * MariaDB: the user's code catches a deadlock and carries on (or returns). The server rolled the
 * transaction back, so what follows would run in autocommit and COMMIT would "succeed" with half a
 * transfer (or none of it); dbop must redo the whole transfer instead. The other side of the deadlock does
 * more work first, so InnoDB picks the ORM's transaction as the victim.
 */
export async function swallowedDeadlock<H>(
  orm: AttackedOrm<H>,
  admin: Admin,
  url: string,
  after: AfterSwallow = 'carry on',
): Promise<void> {
  const other = await mysql.createConnection({ uri: url });
  other.on('error', () => undefined);
  await swallowed(orm, admin, after, {
    query: (sql) => other.query(sql),
    end: () => other.end(),
    ormFirst: [],
    otherFirst: ['INSERT INTO audit (slow) SELECT 0 FROM seq_1_to_2000'],
    lockWaits: 'SELECT COUNT(*) AS n FROM information_schema.INNODB_LOCK_WAITS',
  });
}

/**
 * Postgres: the user's code catches a deadlock and returns. The server aborted the transaction (COMMIT
 * answers ROLLBACK); dbop must redo the whole transfer, not fail with "COMMIT rolled back". The ORM's
 * transaction checks for deadlocks after 10 ms, the other side after 30 s, so the ORM's is the victim.
 */
export async function swallowedPostgresDeadlock<H>(
  orm: AttackedOrm<H>,
  admin: Admin,
  url: string,
  schema: string,
): Promise<void> {
  const other = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  other.on('error', () => undefined);
  await other.connect();
  await other.query("SET deadlock_timeout = '30s'");
  await swallowed(orm, admin, 'return', {
    query: (sql) => other.query(sql),
    end: () => other.end(),
    ormFirst: ["SET LOCAL deadlock_timeout = '10ms'"],
    otherFirst: [],
    lockWaits: 'SELECT COUNT(*) AS n FROM pg_locks WHERE NOT granted',
  });
}

async function swallowed<H>(orm: AttackedOrm<H>, admin: Admin, after: AfterSwallow, other: OtherSide) {
  let swallowed: unknown;
  try {
    await orm.retry(
      async (h, attempt) => {
        await orm.raw(h, 'UPDATE account SET balance = balance - 10 WHERE id = 1');
        if (attempt.attempt === 1) {
          for (const statement of other.ormFirst) await orm.raw(h, statement);
          await other.query('BEGIN');
          for (const statement of other.otherFirst) await other.query(statement);
          await other.query('UPDATE account SET balance = balance + 1000 WHERE id = 2');
          const waiting = other.query('UPDATE account SET balance = balance + 1000 WHERE id = 1');
          const otherDone = waiting.then(
            () => other.query('ROLLBACK'),
            () => other.query('ROLLBACK'),
          );
          for (let i = 0; i < 250; i++) {
            const rows = await admin.query(other.lockWaits);
            if (Number(rows[0]?.n) > 0) break;
            await sleep(20);
          }
          await orm
            .raw(h, 'UPDATE account SET balance = balance + 5 WHERE id = 2')
            .catch((error: unknown) => {
              swallowed = error;
            });
          await otherDone;
          if (after === 'return') return;
        }
        await orm.raw(h, 'UPDATE account SET balance = balance + 10 WHERE id = 3');
      },
      { runner: new DbOpRunner({ initialDelayMs: 10 }) },
    );
  } finally {
    await other.end();
  }
  expect(swallowed).toBeDefined();
  expect(await admin.balances()).toEqual({ 1: 90, 2: 100, 3: 110 });
}

/**
 * SQLite: a retryTransaction nested in another's callback on the ORM's one connection would wait for the
 * outer one to end, which waits for it. It is refused at once; the outer one is aborted after 5 s, so the
 * attack ends either way (before the fix, the inner one then ran on the released connection).
 */
export async function nestedOnOneConnection<H>(orm: Pick<AttackedOrm<H>, 'retry'>): Promise<void> {
  const signal = AbortSignal.timeout(5_000);
  let inner: unknown = 'never reached';
  const outer = await orm
    .retry(
      async () => {
        inner = await orm.retry(async () => 'inner ran').catch((e: unknown) => e);
        return 'outer ran';
      },
      { signal },
    )
    .catch((e: unknown) => e);
  expect(isDbopError(inner, 'DBOP_TRANSACTION_BOUNDARY')).toBe(true);
  expect(outer).toBe('outer ran');
}
