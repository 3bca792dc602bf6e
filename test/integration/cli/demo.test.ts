import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { DemoReport } from '../../../src/cli/demo/demo-report.js';
import { main } from '../../../src/cli/main.js';
import { describeIfMariadb, describeIfPostgres, mariadbUrl, postgresUrl } from '../../support/servers.js';
import { recordingIo } from '../../unit/cli/cli-test-io.js';

async function demo(...args: string[]): Promise<{ code: number; report: DemoReport; progress: string }> {
  const io = recordingIo();
  const code = await main(['demo', '--json', ...args], io);
  // --json keeps stdout pure JSON; progress goes to stderr.
  return { code, report: JSON.parse(io.out()) as DemoReport, progress: io.err() };
}

const sum = (counts: Readonly<Record<string, number>>): number =>
  Object.values(counts).reduce((a, b) => a + b, 0);

function expectBooksBalance(report: DemoReport): void {
  expect(report.invariant).toMatchObject({ holds: true, lost: 0, unexpected: 0, mismatchedAccounts: 0 });
  expect(report.invariant.actualTotal).toBe(report.invariant.expectedTotal);
}

describe('dbop demo on the embedded SQLite default', () => {
  it('with dbop: real contention for the write lock, every transfer commits, the books balance', async () => {
    const { code, report, progress } = await demo('--duration', '2');
    expect(code).toBe(0);
    expect(report.backend).toBe('sqlite');
    expect(report.committed).toBeGreaterThan(50);
    expect(report.failed).toBe(0);
    // The threads collide on the write lock: BEGIN IMMEDIATE waits for it (and, past sqliteLockWaitMs, retries).
    expect(report.lockWaits + (report.retriesByKind['lock-timeout'] ?? 0)).toBeGreaterThan(0);
    expect(report.attempts).toBe(report.committed + report.failed + sum(report.retriesByKind));
    expect(report.latencyMs.p99).toBeGreaterThanOrEqual(report.latencyMs.p50!);
    expectBooksBalance(report);
    expect(progress).toMatch(/committed \d+ \(\d+\/s\) {2}retries/);
  });

  it('--no-retry: the same workload with plain driver calls loses transfers to SQLITE_BUSY', async () => {
    const { code, report } = await demo('--duration', '2', '--no-retry');
    expect(code).toBe(0);
    expect(report.mode).toBe('no-retry');
    expect(report.failed).toBeGreaterThan(0);
    expect(report.failuresByReason['lock-timeout SQLITE_BUSY']).toBe(report.failed);
    expect(sum(report.retriesByKind)).toBe(0);
    expect(report.lockWaits).toBe(0);
    expectBooksBalance(report);
  });
});

/**
 * Waits for the demo's SQLite file under `dir` and adds 7 to account 1 while the workers run: the books
 * no longer balance, whatever the workload does. Resolves once the change is committed.
 */
async function changeBalanceBehindTheDemosBack(dir: string, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));
  while (Date.now() < until) {
    const run = readdirSync(dir).find((name) => name.startsWith('dbop-demo-'));
    const path = run === undefined ? undefined : join(dir, run, 'bank.db');
    if (path !== undefined && existsSync(path)) {
      // Busy timeout 0: a blocking wait here would block the demo's own workers in this process.
      const db = new BetterSqlite(path, { timeout: 0 });
      try {
        const table = db
          .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%\\_accounts' ESCAPE '\\'",
          )
          .pluck()
          .get() as string | undefined;
        if (
          table !== undefined &&
          db.prepare(`UPDATE ${table} SET balance = balance + 7 WHERE id = 1`).run().changes === 1
        ) {
          return true;
        }
      } catch (error) {
        if (!String((error as { code?: unknown }).code).startsWith('SQLITE_BUSY')) throw error;
      } finally {
        db.close();
      }
    }
    await pause();
  }
  return false;
}

describe('dbop demo when the books do not balance', () => {
  it('exits 1 and reports the invariant BROKEN when a balance changes behind its back', async () => {
    // The demo's SQLite file goes to os.tmpdir(): point it at a directory this test can watch.
    const scratch = mkdtempSync(join(tmpdir(), 'dbop-sabotage-'));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = scratch;
    try {
      const io = recordingIo();
      const running = main(['demo', '--duration', '2', '--workers', '4'], io);
      const sabotaged = await changeBalanceBehindTheDemosBack(scratch, 10_000);
      const code = await running;
      expect(sabotaged).toBe(true);
      expect(code).toBe(1);
      expect(io.out()).toMatch(
        /\n {2}invariant {5}BROKEN: total balance 10007 \(expected 10000\), 0 lost, 0 unexpected, 1 accounts off the ledger\n/,
      );
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});

describeIfPostgres('dbop demo on PostgreSQL', () => {
  it('with dbop: serialization failures (and deadlocks) are retried, nothing fails, the books balance', async () => {
    const { code, report } = await demo('--url', postgresUrl(), '--duration', '3');
    expect(code).toBe(0);
    expect(report.backend).toBe('postgres');
    expect(report.failed).toBe(0);
    expect(report.committed).toBeGreaterThan(20);
    expect(report.retriesByKind.serialization ?? 0).toBeGreaterThan(0);
    expectBooksBalance(report);
  });

  it('--no-retry: 40001 and 40P01 from the server fail transfers', async () => {
    const { code, report } = await demo(
      '--url',
      postgresUrl(),
      '--duration',
      '3',
      '--no-retry',
      '--accounts',
      '10',
    );
    expect(code).toBe(0);
    expect(report.failed).toBeGreaterThan(0);
    for (const reason of Object.keys(report.failuresByReason))
      expect(reason).toMatch(/^(serialization 40001|deadlock 40P01)$/);
    expectBooksBalance(report);
  });
});

describeIfMariadb('dbop demo on MariaDB', () => {
  it('with dbop: InnoDB deadlocks (1213) are retried, nothing fails, the books balance', async () => {
    const { code, report } = await demo('--url', mariadbUrl(), '--duration', '3');
    expect(code).toBe(0);
    expect(report.backend).toBe('mariadb');
    expect(report.failed).toBe(0);
    expect(report.retriesByKind.deadlock).toBeGreaterThan(0);
    expectBooksBalance(report);
  });

  it('--no-retry: deadlock victims fail', async () => {
    const { code, report } = await demo('--url', mariadbUrl(), '--duration', '3', '--no-retry');
    expect(code).toBe(0);
    expect(report.failed).toBeGreaterThan(0);
    expect(report.failuresByReason['deadlock 1213']).toBe(report.failed);
    expectBooksBalance(report);
  });
});
