import { describe, expect, it } from 'vitest';
import { createDatabase } from '../../../src/database/create-database.js';

// mysql2, mariadb and better-sqlite3 stream on the raw driver handle, which the attempt's fence does not
// cover: a body that runs on after the caller's abort must still not reach the server with a stream.
describe('conn.stream() in a db.transaction body abandoned by the caller', () => {
  it('is refused with the abort reason once the attempt ended; nothing runs', async () => {
    const db = await createDatabase({ url: 'sqlite::memory:', max: 1 });
    try {
      await db.query('CREATE TABLE streamed (n INTEGER)');
      const controller = new AbortController();
      const reason = new Error('caller gave up');
      let resume!: () => void;
      const held = new Promise<void>((resolve) => {
        resume = resolve;
      });
      let inside!: () => void;
      const started = new Promise<void>((resolve) => {
        inside = resolve;
      });
      let late: Promise<unknown> | undefined;
      const unit = db.transaction(
        async (conn) => {
          inside();
          await held;
          late = conn.stream('INSERT INTO streamed VALUES (1) RETURNING n').next();
          await late.catch(() => undefined);
        },
        { signal: controller.signal },
      );
      await started;
      controller.abort(reason);
      await expect(unit).rejects.toBe(reason);
      const before = db.stats().errors.total;
      resume();
      await expect.poll(() => late !== undefined, { timeout: 5000 }).toBe(true);
      await expect(late).rejects.toBe(reason);
      expect((await db.query('SELECT n FROM streamed')).rows).toEqual([]);
      expect(db.stats().errors.total).toBe(before);
    } finally {
      await db.close();
    }
  });
});
