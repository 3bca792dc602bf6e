import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { recordingIo } from './cli-test-io.js';

async function cli(
  env: Readonly<Record<string, string>>,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  const io = { ...recordingIo(), env };
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}

const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

describe('dbop --version', () => {
  it("prints package.json's version and exits 0", async () => {
    for (const flag of ['--version', '-v']) {
      const result = await cli({}, flag);
      expect(result).toEqual({ code: 0, out: `dbop ${version}\n`, err: '' });
    }
  });
});

describe('DATABASE_URL is the default URL of run and check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dbop-cli-env-'));
  const url = `sqlite:${join(dir, 'env.db')}`;
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('run and check use DATABASE_URL when --url is absent', async () => {
    const run = await cli({ DATABASE_URL: url }, 'run', '--json', 'SELECT 7 AS n');
    expect(run.code, run.err).toBe(0);
    expect(JSON.parse(run.out)).toEqual([{ n: 7 }]);
    const check = await cli({ DATABASE_URL: url }, 'check');
    expect(check.code, check.err).toBe(0);
    expect(check.out).toMatch(/env\.db {2}reachable {2}embedded {2}SQLite/);
  });

  it('--url wins over DATABASE_URL', async () => {
    const env = { DATABASE_URL: 'redis://u:s3cret@h/0' };
    const run = await cli(env, 'run', '--url', url, '--json', 'SELECT 8 AS n');
    expect(run.code, run.err).toBe(0);
    expect(JSON.parse(run.out)).toEqual([{ n: 8 }]);
    // Without --url the bad DATABASE_URL is what runs, and its password stays out of the message.
    const bad = await cli(env, 'run', 'SELECT 1');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/Unsupported scheme "redis:"/);
    expect(bad.err).not.toContain('s3cret');
  });

  it('without --url or DATABASE_URL (or an empty one), run and check exit 2 and say so', async () => {
    for (const env of [{}, { DATABASE_URL: '' }]) {
      for (const args of [['run', 'SELECT 1'], ['check']]) {
        const result = await cli(env, ...args);
        expect(result.code).toBe(2);
        expect(result.err).toContain(`dbop ${args[0]}: --url is required when DATABASE_URL is not set`);
      }
    }
  });
});

describe('dbop classify with a code dbop does not know', () => {
  it('exits 1 with one clear line on stderr and nothing on stdout', async () => {
    const cases: Array<[string[], string]> = [
      [['99999'], 'unknown code "99999": no postgres error table of dbop lists it'],
      [['9999'], 'unknown code "9999": no mysql or mariadb error table of dbop lists it'],
      [['SQLITE_NOPE'], 'unknown code "SQLITE_NOPE": no sqlite error table'],
      [['ENOPE'], 'unknown code "ENOPE": no Node error table'],
      [['99999', '--json'], 'unknown code "99999"'],
    ];
    for (const [args, message] of cases) {
      const result = await cli({}, 'classify', ...args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.out).toBe('');
      expect(result.err).toContain(`dbop classify: ${message}`);
      expect(result.err.trimEnd().split('\n')).toHaveLength(1);
    }
  });

  it('exits 0 for codes a table lists, those whose verdict is "unknown" on purpose included', async () => {
    for (const code of ['40001', '25P02', 'SQLITE_LOCKED', '1305', 'ECONNRESET']) {
      const result = await cli({}, 'classify', code);
      expect(result.code, code).toBe(0);
      expect(result.out).toContain(code);
    }
  });
});
