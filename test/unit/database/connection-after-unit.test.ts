import { describe, expect, it } from 'vitest';
import { createDatabase } from '../../../src/database/create-database.js';
import type { DatabaseConnection } from '../../../src/database/database-connection.js';
import { ConnectionEndedError } from '../../../src/database/database-errors.js';

// A connection handed to a unit's function is that unit's only: kept past the unit (stored, or used from a
// timer), its statements would run in autocommit or inside the next unit's transaction on the same pooled
// connection, committed or rolled back with work that is not theirs.
describe('a DatabaseConnection used after its unit ended', () => {
  it.each(['transaction', 'run', 'acquire'] as const)(
    'rejects every statement after %s() (nothing runs)',
    async (method) => {
      const db = await createDatabase({ url: 'sqlite::memory:' });
      try {
        await db.query('CREATE TABLE kept (n INTEGER)');
        let kept: DatabaseConnection | undefined;
        const step = async (connection: DatabaseConnection): Promise<void> => {
          kept = connection;
          await connection.execute('INSERT INTO kept VALUES (1)');
        };
        await (method === 'acquire' ? db.acquire(step) : db[method](step));
        await expect(kept!.execute('INSERT INTO kept VALUES (2)')).rejects.toBeInstanceOf(
          ConnectionEndedError,
        );
        await expect(kept!.deadlockRetryExecute('INSERT INTO kept VALUES (3)')).rejects.toBeInstanceOf(
          ConnectionEndedError,
        );
        await expect(kept!.stream('SELECT n FROM kept').next()).rejects.toBeInstanceOf(ConnectionEndedError);
        // Inside the next unit on the same (only) pooled connection, the kept one still cannot write.
        const inNext = await db.transaction(async (connection) => {
          const attempt = await kept!.execute('INSERT INTO kept VALUES (4)').then(
            () => 'ran',
            (error: unknown) => (error instanceof ConnectionEndedError ? 'refused' : 'other error'),
          );
          await connection.execute('INSERT INTO kept VALUES (5)');
          return attempt;
        });
        expect(inNext).toBe('refused');
        expect((await db.query('SELECT n FROM kept ORDER BY n')).rows).toEqual([{ n: 1 }, { n: 5 }]);
      } finally {
        await db.close();
      }
    },
  );

  it('keeps working for statements sent before the unit ends, even ones not awaited', async () => {
    const db = await createDatabase({ url: 'sqlite::memory:' });
    try {
      await db.query('CREATE TABLE late (n INTEGER)');
      await db.transaction(async (connection) => {
        void connection.execute('INSERT INTO late VALUES (1)');
      });
      expect((await db.query('SELECT count(*) AS c FROM late')).rows).toEqual([{ c: 1 }]);
    } finally {
      await db.close();
    }
  });
});
