import { describe, expect, it } from 'vitest';
import { type DemoReport, formatDemoReport } from '../../../src/cli/demo/demo-report.js';
import { latencyPercentile } from '../../../src/cli/demo/latency-percentile.js';
import { formatProgress, ProgressLine } from '../../../src/cli/demo/progress-line.js';
import { recordingIo } from './cli-test-io.js';

describe('latencyPercentile', () => {
  it('takes the nearest rank', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(latencyPercentile(samples, 50)).toBe(50);
    expect(latencyPercentile(samples, 99)).toBe(99);
    expect(latencyPercentile(samples, 100)).toBe(100);
    expect(latencyPercentile([7], 99)).toBe(7);
    expect(latencyPercentile([], 50)).toBeNaN();
  });
});

const report: DemoReport = {
  backend: 'sqlite',
  target: '/tmp/x/bank.db',
  mode: 'retry',
  workers: 8,
  accounts: 10,
  durationS: 5,
  elapsedS: 5.02,
  committed: 1500,
  attempts: 4500,
  retriesByKind: { 'lock-timeout': 3000 },
  failed: 0,
  failuresByReason: {},
  lockWaits: 700,
  latencyMs: { p50: 4.5, p99: 120.25 },
  invariant: {
    holds: true,
    expectedTotal: 10000,
    actualTotal: 10000,
    lost: 0,
    unexpected: 0,
    mismatchedAccounts: 0,
  },
  policy: { maxRetries: 50, initialDelayMs: 2, maxDelayMs: 50, jitter: 'full' },
  notes: ['a note'],
};

describe('formatDemoReport', () => {
  it('shows every figure of the report', () => {
    const text = formatDemoReport(report);
    expect(text).toContain('committed     1500 (299/s)');
    expect(text).toContain('attempts      4500');
    expect(text).toContain('retries       3000 (lock-timeout 3000)');
    expect(text).toContain('failed        0\n');
    expect(text).toContain("lock waits    700 (BEGIN IMMEDIATE waited for another writer's lock)");
    expect(formatDemoReport({ ...report, lockWaits: 0 })).not.toContain('lock waits');
    expect(text).toContain('latency       p50 4.5 ms, p99 120.3 ms');
    expect(text).toContain('invariant     HOLDS: total balance 10000 (expected 10000), 0 lost, 0 unexpected');
    expect(text).toContain('note          a note');
  });

  it('says BROKEN and lists failures by reason', () => {
    const text = formatDemoReport({
      ...report,
      failed: 3,
      failuresByReason: { 'deadlock 1213': 3 },
      invariant: { ...report.invariant, holds: false, actualTotal: 9990, lost: 1 },
    });
    expect(text).toContain('failed        3 (deadlock 1213: 3)');
    expect(text).toContain('invariant     BROKEN: total balance 9990 (expected 10000), 1 lost');
  });
});

describe('ProgressLine', () => {
  const snapshot = {
    elapsedS: 1.25,
    committed: 100,
    retriesByKind: { deadlock: 2, serialization: 5 },
    failed: 1,
  };

  it('formats elapsed, committed/s, retries by kind and failures', () => {
    expect(formatProgress(snapshot)).toBe(
      '1.3s  committed 100 (80/s)  retries deadlock 2, serialization 5  failed 1',
    );
  });

  it('rewrites one line on a TTY', () => {
    const io = recordingIo({ tty: true });
    const line = new ProgressLine(io.stderr);
    line.update(snapshot);
    line.update({ ...snapshot, elapsedS: 1.5 });
    line.done();
    expect(io.err()).toBe(
      `\r\x1b[2K${formatProgress(snapshot)}\r\x1b[2K${formatProgress({ ...snapshot, elapsedS: 1.5 })}\n`,
    );
  });

  it('prints at most one plain line per second elsewhere', () => {
    const io = recordingIo();
    const line = new ProgressLine(io.stderr);
    for (const elapsedS of [0.2, 0.4, 1.1, 1.9, 2.0]) line.update({ ...snapshot, elapsedS });
    line.done();
    expect(io.err().split('\n').filter(Boolean)).toHaveLength(3);
    expect(io.err()).not.toContain('\r');
  });
});
