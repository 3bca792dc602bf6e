import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import { describeIfMariadb, mariadbUrl } from '../../support/servers.js';

/** A value whose encoding throws in the client, before or while the statement is sent. */
const unencodable = (): unknown[] => [
  {
    toJSON() {
      throw new Error('cannot encode');
    },
  },
];

const settled = (work: Promise<unknown>): Promise<string> =>
  Promise.race([
    work.then(
      () => 'resolved',
      (error: unknown) => `rejected: ${(error as Error).message}`,
    ),
    new Promise<string>((resolve) => setTimeout(resolve, 10_000, 'still pending after 10 s')),
  ]);

// The mariadb connector (3.5) rejects a statement whose parameter cannot be encoded, and leaves the
// connection wedged: every later statement on it waits forever. Back in the pool, it hung the next caller.
describeIfMariadb('a parameter the mariadb connector cannot encode (mariadb://)', () => {
  let db: Database;
  beforeAll(async () => {
    db = await createDatabase({ url: mariadbUrl().replace(/^mysql:/, 'mariadb:'), max: 1, maxRetries: 0 });
  });
  afterAll(async () => {
    await db.close();
  });

  it('rejects, is counted, and the pooled connection is not lent again wedged', async () => {
    expect(await settled(db.query('SELECT ? AS v', unencodable()))).toBe('rejected: cannot encode');
    expect(db.stats().errors.total).toBeGreaterThan(0);
    expect(await settled(db.query('SELECT 1 AS one'))).toBe('resolved');
    expect(await settled(db.transaction((conn) => conn.execute('SELECT ? AS v', unencodable())))).toBe(
      'rejected: cannot encode',
    );
    expect(await settled(db.transaction((conn) => conn.execute('SELECT 2 AS two')))).toBe('resolved');
  });
});
