import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, sql, type Transaction } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDbopError } from '../../../src/core/errors.js';
import { retryTransaction, step } from '../../../src/integrations/kysely/index.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { recordingLogger } from './orm-support.js';

interface DB {
  account: { id: number; balance: number };
}

async function move(trx: Transaction<DB>, from: number, to: number, amount: number): Promise<void> {
  await trx
    .updateTable('account')
    .set({ balance: sql`balance - ${amount}` })
    .where('id', '=', from)
    .execute();
  await trx
    .updateTable('account')
    .set({ balance: sql`balance + ${amount}` })
    .where('id', '=', to)
    .execute();
}

describe('dbop/kysely on SQLite (better-sqlite3 through SqliteDialect)', () => {
  let dir: string;
  let file: string;
  let db: Kysely<DB>;
  let other: Database.Database;
  const logged: string[] = [];
  const balances = () =>
    Object.fromEntries(
      (
        other.prepare('SELECT id, balance FROM account ORDER BY id').all() as {
          id: number;
          balance: number;
        }[]
      ).map((r) => [r.id, r.balance]),
    );
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'dbop-kysely-'));
    file = join(dir, 'bank.db');
    other = new Database(file);
    other.pragma('journal_mode = WAL');
    other.exec('CREATE TABLE account (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)');
    other.exec('INSERT INTO account (id, balance) VALUES (1, 100), (2, 100)');
    db = new Kysely<DB>({
      dialect: new SqliteDialect({ database: new Database(file, { timeout: 100 }) }),
      log: (event) => {
        logged.push(event.query.sql);
      },
    });
  });
  afterAll(async () => {
    await db?.destroy();
    other?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a writer lock held by another connection (SQLITE_BUSY) is waited out by retrying; applied once', async () => {
    other.exec('BEGIN IMMEDIATE');
    const logger = recordingLogger();
    // The other connection lets go once dbop reported the first BUSY: no timing involved.
    const release = (object: object, message: string) => {
      logger.records.push({ level: 'warn', object: object as Record<string, unknown>, message });
      if (other.inTransaction) other.exec('COMMIT');
    };
    const runner = new DbOpRunner({ initialDelayMs: 10, logger: { ...logger, warn: release } });
    let attempts = 0;
    await retryTransaction(
      db,
      async (trx) => {
        attempts += 1;
        await move(trx, 1, 2, 10);
      },
      { runner },
    );
    // The first BEGIN IMMEDIATE met the lock, so the body ran once, on the retry.
    expect(attempts).toBe(1);
    expect(logger.records[0]?.object.kind).toBe('lock-timeout');
    // The connection's own busy timeout is back after dbop's per-step one.
    const { rows } = await sql<{ timeout: number }>`SELECT timeout FROM pragma_busy_timeout`.execute(db);
    expect(rows[0]?.timeout).toBe(100);
    expect(balances()).toEqual({ 1: 90, 2: 110 });
    expect(logged.some((s) => /^BEGIN IMMEDIATE/i.test(s))).toBe(true);
    expect(logged).toContain('COMMIT');
  });

  it('a nested step is a SAVEPOINT: its failure is undone alone, the outer transfer commits', async () => {
    await retryTransaction(db, async (trx) => {
      await move(trx, 1, 2, 5);
      const failed = await step(trx, async (t) => {
        await move(t, 2, 1, 50);
        throw new Error('business rule');
      }).catch((e: unknown) => e);
      expect((failed as Error).message).toBe('business rule');
    });
    expect(balances()).toEqual({ 1: 85, 2: 115 });
    expect(logged.some((s) => /^SAVEPOINT/i.test(s))).toBe(true);
  });

  it('COMMIT or a fresh BEGIN sent through the handle is refused, and nothing is committed', async () => {
    for (const statement of ['COMMIT', 'BEGIN', 'END TRANSACTION']) {
      const error = await retryTransaction(db, async (trx) => {
        await move(trx, 1, 2, 1);
        await sql.raw(statement).execute(trx);
      }).catch((e: unknown) => e);
      expect(isDbopError(error, 'DBOP_TRANSACTION_BOUNDARY')).toBe(true);
    }
    expect(balances()).toEqual({ 1: 85, 2: 115 });
  });
});
