import mysql from 'mysql2/promise';
import { expect } from 'vitest';
import type { AttemptContext } from '../../../src/core/attempt.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { type Admin, sleep } from './orm-support.js';

/** One ORM as the attacks drive it: its retryTransaction and raw SQL through the handle. */
export interface AttackedOrm<H> {
  retry<T>(fn: (handle: H, attempt: AttemptContext) => Promise<T>, options?: object): Promise<T>;
  raw(handle: H, sql: string): Promise<unknown>;
}

/**
 * MariaDB: the user's code catches a deadlock and carries on. The server rolled the transaction back, so
 * what follows would run in autocommit and COMMIT would "succeed" with half a transfer; dbop must redo the
 * whole transfer instead. The other side of the deadlock does more work first, so InnoDB picks the ORM's
 * transaction as the victim.
 */
export async function swallowedDeadlock<H>(orm: AttackedOrm<H>, admin: Admin, url: string): Promise<void> {
  const other = await mysql.createConnection({ uri: url });
  other.on('error', () => undefined);
  let swallowed: unknown;
  try {
    await orm.retry(
      async (h, attempt) => {
        await orm.raw(h, 'UPDATE account SET balance = balance - 10 WHERE id = 1');
        if (attempt.attempt === 1) {
          await other.query('BEGIN');
          await other.query('INSERT INTO audit (slow) SELECT 0 FROM seq_1_to_2000');
          await other.query('UPDATE account SET balance = balance + 1000 WHERE id = 2');
          const waiting = other.query('UPDATE account SET balance = balance + 1000 WHERE id = 1');
          const otherDone = waiting.then(
            () => other.query('ROLLBACK'),
            () => other.query('ROLLBACK'),
          );
          for (let i = 0; i < 250; i++) {
            const rows = await admin.query('SELECT COUNT(*) AS n FROM information_schema.INNODB_LOCK_WAITS');
            if (Number(rows[0]?.n) > 0) break;
            await sleep(20);
          }
          await orm
            .raw(h, 'UPDATE account SET balance = balance + 5 WHERE id = 2')
            .catch((error: unknown) => {
              swallowed = error;
            });
          await otherDone;
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
