import { getEventListeners } from 'node:events';
import { expect, it } from 'vitest';
import { createDatabase } from '../../../src/database/create-database.js';
import { describeIfMariadb, describeIfPostgres, mariadbUrl, postgresUrl } from '../../support/servers.js';

/**
 * Callers sharing one signal wait for the one pooled connection; on abort they leave the pool's queue at
 * once, not when the connection is next free (the facade hands the attempt's signal to its pool).
 */
async function abortedWaitersLeave(url: string): Promise<void> {
  const db = await createDatabase({ url, max: 1, limiter: false, maxRetries: 0 });
  try {
    let release: (() => void) | undefined;
    const held = db.transaction(
      () =>
        new Promise<void>((resolve) => {
          release = resolve;
        }),
    );
    const until = async (done: () => boolean): Promise<void> => {
      for (let i = 0; i < 1000 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    await until(() => release !== undefined);
    const controller = new AbortController();
    const waiters = Array.from({ length: 12 }, () =>
      db.transaction((c) => c.execute('SELECT 1'), { signal: controller.signal }),
    );
    await until(() => db.stats().pool.waiting === 12);
    expect(db.stats().pool).toMatchObject({ total: 1, inUse: 1, waiting: 12 });
    // One listener on the shared signal, however many wait (Node warns past ten).
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    const reason = new Error('caller gave up');
    controller.abort(reason);
    for (const waiter of waiters) await expect(waiter).rejects.toBe(reason);
    expect(db.stats().pool).toMatchObject({ total: 1, inUse: 1, waiting: 0 });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    release?.();
    await held;
    await expect(db.query('SELECT 1')).resolves.toBeDefined();
  } finally {
    await db.close();
  }
}

describeIfPostgres('an aborted caller leaves the pool queue at once (PostgreSQL)', () => {
  it('takes no place in the queue once aborted', () => abortedWaitersLeave(postgresUrl()));
});

describeIfMariadb('an aborted caller leaves the pool queue at once (MariaDB)', () => {
  it('takes no place in the queue once aborted', () => abortedWaitersLeave(mariadbUrl()));
});
