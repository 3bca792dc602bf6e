import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');

// The README's first command on a fresh checkout: every file git would hand a newcomer (tracked, or new
// and not ignored), nothing built, nothing left over. The one shortcut: node_modules is linked rather
// than reinstalled by `npm ci`, which would fetch every package from the registry.
describe('a newcomer runs the demo from a clean checkout', () => {
  const checkout = mkdtempSync(join(tmpdir(), 'dbop-newcomer-'));
  afterAll(() => rmSync(checkout, { recursive: true, force: true }));

  it('`npm run demo` prints the report and exits 0', () => {
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
    const run = spawnSync('npm', ['run', 'demo', '--', '--duration', '1'], {
      cwd: checkout,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('dbop demo: bank transfers on sqlite');
    expect(run.stdout).toMatch(/committed {5}\d+/);
    expect(run.stdout).toMatch(/latency {7}p50 [\d.]+ ms, p99 [\d.]+ ms/);
    expect(run.stdout).toContain('invariant     HOLDS');
  });
});
