import { expect, it } from 'vitest';
import { isAttemptTimeoutError } from '../../../src/core/errors.js';
import { createDatabase } from '../../../src/database/create-database.js';
import { describeIfMariadb, mariadbUrl } from '../../support/servers.js';

// The cancel of a timed-out statement (KILL QUERY) needs a second connection; with every pooled connection
// busy, mysql2's pool would wait for one forever. The cancel counts against the cleanup limit instead.
describeIfMariadb('an attempt timeout with the pool exhausted (mysql2)', () => {
  it('rejects with the AttemptTimeoutError within the cleanup limit instead of hanging', async () => {
    const db = await createDatabase({ url: mariadbUrl(), max: 1, maxRetries: 0 });
    try {
      const started = Date.now();
      const error = await db
        .run((c) => c.execute('SELECT SLEEP(3)'), { attemptTimeoutMs: 300, statementTimeoutMs: 60_000 })
        .catch((e: unknown) => e);
      expect(isAttemptTimeoutError(error)).toBe(true);
      // 300 ms attempt + the default 5000 ms cleanup limit, with room for a slow machine.
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await db.close();
    }
  }, 30_000);
});
