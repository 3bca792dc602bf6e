import { describe, expect, it } from 'vitest';
import { classify } from '../../../src/dialects/classify.js';
import { driverError } from '../../../src/testing/driver-errors.js';
import { driverMeets, type Fault, faultDrivers, faults } from '../../../src/testing/faults.js';

// The kind each fault must classify as, per driver (the integration suite compares each error with the
// server's own; this pins the whole grid, including the cells no server test reaches).
const expected: Record<Fault, string> = {
  serialization: 'serialization',
  deadlock: 'deadlock',
  'lock-timeout': 'lock-timeout',
  'statement-timeout': 'statement-timeout',
  'read-only': 'read-only',
  'connection-lost': 'connection-lost',
  'commit-lost': 'connection-lost',
  'server-shutdown': 'server-shutdown',
  'too-many-connections': 'too-many-connections',
};

/** Where a driver's real error classifies differently from the fault's name, and why. */
function kindFor(driver: string, fault: Fault): string {
  // InnoDB reports a SERIALIZABLE conflict as a deadlock.
  if ((driver === 'mysql2' || driver === 'mariadb') && fault === 'serialization') return 'deadlock';
  // The MySQL-family server closes the socket when it shuts down: the driver reports a lost connection.
  if ((driver === 'mysql2' || driver === 'mariadb') && fault === 'server-shutdown') return 'connection-lost';
  // SQLite reports a crossing of writers as SQLITE_BUSY, retried like a lock wait.
  if (driver === 'better-sqlite3' && fault === 'deadlock') return 'lock-timeout';
  return expected[fault];
}

describe('driverError', () => {
  for (const driver of faultDrivers) {
    for (const fault of faults) {
      if (!driverMeets(driver, fault)) {
        it(`${driver} rejects ${fault}`, async () => {
          await expect(driverError(driver, fault, { sql: 'UPDATE t SET v = 1' })).rejects.toThrow(
            `The ${driver} driver never fails with "${fault}"`,
          );
        });
        continue;
      }
      it(`${driver} ${fault} classifies as ${kindFor(driver, fault)}`, async () => {
        const error = await driverError(driver, fault, {
          sql: 'UPDATE t SET v = 1',
          dialect: driver === 'mysql2' ? 'mariadb' : undefined,
        });
        const dialect = driver === 'mysql2' || driver === 'mariadb' ? ({ dialect: 'mariadb' } as const) : {};
        expect(classify(error, dialect).kind).toBe(kindFor(driver, fault));
      });
    }
  }

  it('MySQL and MariaDB differ where the servers do', async () => {
    const mysql = await driverError('mysql2', 'statement-timeout', { sql: 'SELECT 1', dialect: 'mysql' });
    const maria = await driverError('mysql2', 'statement-timeout', { sql: 'SELECT 1', dialect: 'mariadb' });
    expect([(mysql as { errno?: number }).errno, (maria as { errno?: number }).errno]).toEqual([3024, 1969]);
    const readOnly = await driverError('mysql2', 'read-only', {
      sql: 'INSERT INTO t VALUES (1)',
      dialect: 'mysql',
    });
    expect(readOnly.message).toContain('The MySQL server is running with the --read-only option');
  });
});
