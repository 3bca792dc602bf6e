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
  it('with dbop: real SQLITE_BUSY contention, every transfer commits, the books balance', async () => {
    const { code, report, progress } = await demo('--duration', '2');
    expect(code).toBe(0);
    expect(report.backend).toBe('sqlite');
    expect(report.committed).toBeGreaterThan(50);
    expect(report.failed).toBe(0);
    expect(report.retriesByKind['lock-timeout']).toBeGreaterThan(0);
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
    expectBooksBalance(report);
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
