import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');

// The README's first command, `npm ci && npm run demo`, on a fresh checkout: every file git would hand a
// newcomer, nothing built, nothing left over. Files not yet committed but not ignored count as tracked:
// the next commit holds them, and a test run before that commit must see what it will ship. The one
// shortcut: node_modules is linked rather than reinstalled by `npm ci`, which would fetch every package
// from the registry on each run.
describe('a newcomer runs the demo from a clean checkout', () => {
  const checkout = mkdtempSync(join(tmpdir(), 'dbop-newcomer-'));
  afterAll(() => rmSync(checkout, { recursive: true, force: true }));

  it('`npm run demo` prints the full report, the books balance, and exits 0', () => {
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
      cwd: root,
    })
      .toString()
      .split('\0')
      .filter((file) => file !== '' && !file.startsWith('node_modules/'));
    for (const file of files) {
      const target = join(checkout, file);
      mkdirSync(dirname(target), { recursive: true });
      try {
        copyFileSync(join(root, file), target);
      } catch (error) {
        // Deleted in the work tree but still tracked: the next commit will not have it either.
        if ((error as { code?: string }).code !== 'ENOENT') throw error;
      }
    }
    symlinkSync(join(root, 'node_modules'), join(checkout, 'node_modules'), 'dir');
    // Exactly the README's command, no extra arguments: the default 5 s run on embedded SQLite.
    expect(readFileSync(join(checkout, 'README.md'), 'utf8')).toContain('npm ci && npm run demo ');
    const run = spawnSync('npm', ['run', 'demo'], {
      cwd: checkout,
      encoding: 'utf8',
      timeout: 90_000,
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(run.status, run.stderr).toBe(0);
    const report = run.stdout.slice(run.stdout.indexOf('dbop demo: ')).trimEnd().split('\n');
    const expected = [
      /^dbop demo: bank transfers on sqlite \(\/.+\/dbop-demo-[^/]+\/bank\.db\)$/,
      /^ {2}mode {10}dbop retries: each transfer is a db\.transaction\(\), retried as a whole$/,
      /^ {2}policy {8}up to 50 retries, full jitter, 2-50 ms backoff$/,
      /^ {2}workers {7}8 on 10 accounts for \d+\.\d s$/,
      /^ {2}committed {5}(\d+) \(\d+\/s\)$/,
      /^ {2}attempts {6}(\d+)$/,
      /^ {2}retries {7}(\d+)(?: \(lock-timeout \d+\))?$/,
      /^ {2}failed {8}0$/,
      /^ {2}lock waits {4}(\d+) \(BEGIN IMMEDIATE waited for another writer's lock\)$/,
      /^ {2}latency {7}p50 [\d.]+ ms, p99 [\d.]+ ms$/,
      /^ {2}invariant {5}HOLDS: total balance 10000 \(expected 10000\), 0 lost, 0 unexpected, 0 accounts off the ledger$/,
      /^ {2}note {10}4 worker threads share the SQLite file, each with its own Database/,
      /^ {2}note {10}would: their writers really collide on the one write lock\. With dbop, BEGIN IMMEDIATE/,
      /^ {2}note {10}without blocking \(writers of one thread in turn/,
      /^ {2}note {10}SQLITE_BUSY goes to the retry policy; with --no-retry, every SQLITE_BUSY fails/,
    ];
    expect(report).toHaveLength(expected.length);
    for (const [i, line] of report.entries()) expect(line).toMatch(expected[i]!);
    const number = (i: number): number => Number(expected[i]!.exec(report[i]!)![1]);
    const [committed, attempts, retries, lockWaits] = [number(4), number(5), number(6), number(8)];
    expect(committed).toBeGreaterThan(100);
    // The threads collide on the write lock: BEGIN IMMEDIATE waits for it, and retries past the wait.
    expect(lockWaits + retries).toBeGreaterThan(0);
    expect(attempts).toBe(committed + retries);
  }, 120_000);
});
