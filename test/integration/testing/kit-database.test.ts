import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isDbopError } from '../../../src/core/errors.js';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import { FaultInjector, type FaultRule, injectDatabaseFaults } from '../../../src/testing/index.js';
import { mariadbUrl, postgresUrl, sharedServers } from '../../support/servers.js';
import { uniqueName } from '../classify/drivers.js';

// injectDatabaseFaults on a real Database, on each backend the shared set has: the engine's reaction to
// each fault, and the data applied exactly once (or, for a lost COMMIT, reported ambiguous and as it is).

const dir = mkdtempSync(join(tmpdir(), 'dbop-kitdb-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const places: [string, () => string][] = [['sqlite', () => `sqlite:${join(dir, 'kit.sqlite')}`]];
if (sharedServers().postgres) places.push(['postgres', postgresUrl]);
if (sharedServers().mariadb) places.push(['mariadb', () => mariadbUrl().replace(/^mysql:/, 'mariadb:')]);

describe.each(places)('injectDatabaseFaults on %s', (backend, url) => {
  const server = backend !== 'sqlite';
  const table = uniqueName('kit_db');
  const open = async (): Promise<Database> =>
    createDatabase({ url: url(), initialDelayMs: 1, maxDelayMs: 5 });

  const moveOnce = async (rules: FaultRule[], idempotent = false) => {
    const db = await open();
    try {
      await db.query(`CREATE TABLE IF NOT EXISTS ${table} (id INT PRIMARY KEY, balance INT NOT NULL)`);
      await db.query(`DELETE FROM ${table}`);
      await db.query(`INSERT INTO ${table} (id, balance) VALUES (1, 100), (2, 100)`);
      const faults = new FaultInjector({ rules });
      const faulty = injectDatabaseFaults(db, faults);
      let calls = 0;
      const outcome = await faulty
        .transaction(
          async (conn) => {
            calls += 1;
            await conn.execute(`UPDATE ${table} SET balance = balance - 10 WHERE id = 1`);
            await conn.execute(`UPDATE ${table} SET balance = balance + 10 WHERE id = 2`);
          },
          { idempotent },
        )
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      const { rows } = await db.query<{ balance: number }>(`SELECT balance FROM ${table} ORDER BY id`);
      return { outcome, calls, faults, balances: rows.map((r) => Number(r.balance)) };
    } finally {
      await db.close();
    }
  };

  const retried: FaultRule['fault'][] = ['serialization', 'deadlock', 'lock-timeout'];
  if (server) retried.push('statement-timeout', 'connection-lost', 'server-shutdown');

  it.each(retried)('%s on the second UPDATE: retried once, applied once', async (fault) => {
    const { outcome, calls, faults, balances } = await moveOnce([{ fault, statement: 'id = 2', times: 1 }]);
    expect(outcome).toBeUndefined();
    expect(faults.injected.map((f) => f.fault)).toEqual([fault]);
    expect(calls).toBe(2);
    expect(balances).toEqual([90, 110]);
  });

  it('read-only: not retried, the driver error reaches the caller, nothing applied', async () => {
    const { outcome, calls, balances } = await moveOnce([{ fault: 'read-only', statement: 'id = 1' }]);
    expect(outcome).toBeInstanceOf(Error);
    expect(isDbopError(outcome)).toBe(false);
    expect(calls).toBe(1);
    expect(balances).toEqual([100, 100]);
  });

  it.runIf(server).each([true, false])(
    'COMMIT lost (committed: %s): AmbiguousCommitError, the data as the server left it',
    async (committed) => {
      const { outcome, calls, balances } = await moveOnce([{ fault: 'commit-lost', committed, times: 1 }]);
      expect(isDbopError(outcome, 'DBOP_AMBIGUOUS_COMMIT')).toBe(true);
      expect(calls).toBe(1);
      expect(balances).toEqual(committed ? [90, 110] : [100, 100]);
    },
  );

  it.runIf(server)('COMMIT lost and not committed, idempotent: retried, applied once', async () => {
    const { outcome, calls, balances } = await moveOnce(
      [{ fault: 'commit-lost', committed: false, times: 1 }],
      true,
    );
    expect(outcome).toBeUndefined();
    expect(calls).toBe(2);
    expect(balances).toEqual([90, 110]);
  });

  it('wrapped by two injectors: the COMMIT rule of either strikes, inner or outer', async () => {
    const db = await open();
    try {
      await db.query(`CREATE TABLE IF NOT EXISTS ${table} (id INT PRIMARY KEY, balance INT NOT NULL)`);
      for (const which of ['inner', 'outer'] as const) {
        const inner = new FaultInjector();
        const outer = new FaultInjector();
        (which === 'inner' ? inner : outer).add({ fault: 'deadlock', statement: 'COMMIT', times: 1 });
        const faulty = injectDatabaseFaults(injectDatabaseFaults(db, inner), outer);
        let calls = 0;
        await faulty.transaction(async (conn) => {
          calls += 1;
          await conn.execute(`UPDATE ${table} SET balance = balance + 1 WHERE id = 1`);
        });
        expect({ which, calls }).toEqual({ which, calls: 2 });
        expect((which === 'inner' ? inner : outer).injected.map((f) => f.statement)).toEqual(['COMMIT']);
        // The outer saw every statement (UPDATE and COMMIT of each attempt); the inner all but one the
        // outer failed, as a statement the outer fails never reaches the inner.
        expect([inner.statements, outer.statements]).toEqual([which === 'outer' ? 3 : 4, 4]);
      }
    } finally {
      await db.close();
    }
  });

  it('refuses faults it cannot inject here, naming where to inject them', async () => {
    const db = await open();
    try {
      expect(() =>
        injectDatabaseFaults(db, new FaultInjector({ rules: [{ fault: 'too-many-connections' }] })),
      ).toThrow(/injectPoolFaults, injectSourceFaults/);
      // A rule added after the wrap is refused the same way (it would never have fired).
      const later = new FaultInjector();
      injectDatabaseFaults(db, later);
      expect(() => later.add({ fault: 'too-many-connections' })).toThrow(/injectPoolFaults/);
      if (!server) {
        expect(() =>
          injectDatabaseFaults(db, new FaultInjector({ rules: [{ fault: 'commit-lost' }] })),
        ).toThrow('The better-sqlite3 driver never fails with "commit-lost"');
      }
    } finally {
      await db.close();
    }
  });
});
