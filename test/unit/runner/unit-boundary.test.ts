import { describe, expect, it } from 'vitest';
import { isDbopError } from '../../../src/core/errors.js';
import { postgresSql } from '../../../src/dialects/postgres/postgres-sql.js';
import { DbOpRunner } from '../../../src/runner/dbop-runner.js';
import { DriverSession } from '../../../src/sessions/shared/driver-session.js';
import type { SessionDriver } from '../../../src/sessions/shared/session-driver.js';

type Fake = SessionDriver<null> & { sent: string[]; open: boolean };

/** A Postgres driver that records what it sends; `live` reports the transaction state as pg's client does. */
function fakeDriver(live: boolean): Fake {
  const run = (sql: string): void => {
    fake.sent.push(sql);
    if (/^BEGIN/.test(sql)) fake.open = true;
    if (/^(COMMIT|ROLLBACK)$/.test(sql)) fake.open = false;
  };
  const fake: Fake = {
    dialect: 'postgres',
    sql: postgresSql(),
    raw: null,
    sent: [],
    open: false,
    async query(sql) {
      run(sql);
      return { rows: [], rowCount: 0 };
    },
    async batch(statements) {
      for (const statement of statements) run(statement);
      return [];
    },
    destroy() {},
    ...(live ? { inTransaction: () => fake.open } : {}),
  };
  return fake;
}

const conflict = () => Object.assign(new Error('could not serialize access'), { code: '40001' });
const runner = new DbOpRunner({ maxRetries: 3, initialDelayMs: 1 });

describe('a unit body that ends the transaction dbop began for it', () => {
  it('fails with DBOP_TRANSACTION_BOUNDARY, not retried, when the driver saw it end (raw driver too)', async () => {
    const driver = fakeDriver(true);
    const session = new DriverSession(driver);
    let tries = 0;
    const error = await runner
      .transaction(session, async () => {
        tries += 1;
        // Sent past the session, as with the driver itself: only the driver's status tells.
        driver.open = false;
        throw conflict();
      })
      .catch((e: unknown) => e);
    expect(tries).toBe(1);
    expect(isDbopError(error, 'DBOP_TRANSACTION_BOUNDARY')).toBe(true);
    // Nothing to roll back or commit: no ROLLBACK nor COMMIT was sent after BEGIN.
    expect(driver.sent.filter((s) => /^(COMMIT|ROLLBACK)/.test(s))).toEqual([]);
    // The session is fit for the next unit.
    await runner.transaction(session, (s) => s.query('SELECT 1'));
    expect(driver.sent.slice(-2)).toEqual(['SELECT 1', 'COMMIT']);
  });

  it('without a transaction status, has its COMMIT refused unsent; outside a unit it is sent', async () => {
    const driver = fakeDriver(false);
    const session = new DriverSession(driver);
    const error = await runner
      .transaction(session, (s) => s.query('/* done */ COMMIT'))
      .catch((e: unknown) => e);
    expect(isDbopError(error, 'DBOP_TRANSACTION_BOUNDARY')).toBe(true);
    expect((error as Error).message).toMatch(/^"COMMIT" would end the transaction dbop began/);
    expect(driver.sent.filter((s) => !s.startsWith('SET '))).toEqual(['BEGIN', 'ROLLBACK']);
    await session.query('COMMIT');
    expect(driver.sent.at(-1)).toBe('COMMIT');
  });
});
