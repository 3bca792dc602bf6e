import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { recordingIo } from './cli-test-io.js';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = recordingIo();
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}

describe('dbop: usage', () => {
  it('lists the commands on --help and exits 2 with no command', async () => {
    const help = await cli('--help');
    expect(help.code).toBe(0);
    for (const name of ['demo', 'run', 'check', 'classify']) expect(help.out).toContain(`  ${name}`);
    expect((await cli()).code).toBe(2);
  });

  for (const command of ['demo', 'run', 'check', 'classify']) {
    it(`dbop ${command} --help prints its usage and exits 0`, async () => {
      const result = await cli(command, '--help');
      expect(result.code).toBe(0);
      expect(result.out).toMatch(new RegExp(`^Usage: dbop ${command}`));
    });
  }

  const bad: Array<[string[], RegExp]> = [
    [['nope'], /unknown command "nope"/],
    [['demo', '--bogus'], /dbop demo: Unknown option '--bogus'/],
    [['demo', '--workers', '0'], /--workers must be an integer from 1 to 256, got "0"/],
    [['demo', '--duration', 'soon'], /--duration must be a number/],
    [['demo', '--url'], /argument missing/],
    [['demo', 'extra'], /unexpected argument "extra"/],
    [
      ['demo', '--url', 'sqlite:/tmp/x.db'],
      /--url must be a postgres:\/\/, mysql:\/\/ or mariadb:\/\/ server/,
    ],
    [
      ['demo', '--url', 'postgres://app:s3cret@db:5x/shop'],
      /^dbop: Invalid port at character 26 of the database URL: expected a number from 1 to 65535\n/,
    ],
    [['run', 'SELECT 1'], /--url is required/],
    [['run', '--url', 'sqlite::memory:'], /missing the SQL statement/],
    [
      ['run', '--url', 'sqlite::memory:', '--retries', '-1', 'SELECT 1'],
      /--retries|Unknown option|argument missing/,
    ],
    [['run', '--url', 'redis://h', 'SELECT 1'], /Unsupported scheme "redis:" at character 1/],
    [['check'], /--url is required/],
    // A URL the driver settings refuse is a usage error for check as for run, not an unreachable host.
    [['check', '--url', 'postgres://u:s3cret@127.0.0.1/db?sslmode=sometimes'], /sslmode/],
    [['classify'], /missing CODE/],
    [['classify', '40001', '--backend', 'oracle'], /--backend must be one of/],
    [['classify', 'what?'], /cannot tell which backend/],
  ];
  for (const [args, message] of bad) {
    it(`exits 2 with a clear message: dbop ${args.join(' ')}`, async () => {
      const result = await cli(...args);
      expect(result.code).toBe(2);
      expect(result.err).toMatch(message);
      expect(result.err).not.toContain('s3cret');
    });
  }
});

describe('dbop classify', () => {
  it('classifies codes of each backend', async () => {
    expect((await cli('classify', '40001')).out).toBe(
      'postgres 40001: serialization (retryable, scope transaction)\n',
    );
    expect((await cli('classify', 'SQLITE_BUSY_SNAPSHOT')).out).toContain(
      'sqlite SQLITE_BUSY_SNAPSHOT: serialization',
    );
    expect((await cli('classify', 'ECONNRESET')).out).toContain('connection-lost');
    const both = await cli('classify', '1213');
    expect(both.out).toContain('mysql 1213: deadlock (retryable, scope transaction)');
    expect(both.out).toContain('mariadb 1213: deadlock (retryable, scope transaction)');
  });

  it('tells MySQL and MariaDB numbers apart (C2)', async () => {
    const json = JSON.parse((await cli('classify', '3024', '--backend', 'mysql', '--json')).out);
    expect(json).toMatchObject({ backend: 'mysql', kind: 'statement-timeout' });
    const maria = JSON.parse((await cli('classify', '3024', '--backend', 'mariadb', '--json')).out);
    expect(maria.kind).not.toBe('statement-timeout');
  });
});

describe('dbop run and check on SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dbop-cli-test-'));
  const url = `sqlite:${join(dir, 'cli.db')}`;
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs statements and prints rows as a table or JSON', async () => {
    expect((await cli('run', '--url', url, 'CREATE TABLE t (id INTEGER, name TEXT)')).code).toBe(0);
    expect((await cli('run', '--url', url, "INSERT INTO t VALUES (1, 'one'), (2, 'two')")).err).toMatch(
      /^2 row\(s\), 1 attempt\(s\)/,
    );
    const table = await cli('run', '--url', url, '--read-only', 'SELECT id, name FROM t ORDER BY id');
    expect(table.out).toBe('id  name\n--  ----\n1   one\n2   two\n');
    const json = await cli('run', '--url', url, '--json', 'SELECT count(*) AS n FROM t');
    expect(JSON.parse(json.out)).toEqual([{ n: 2 }]);
  });

  it('exits 1 with the database error when the statement fails', async () => {
    const result = await cli('run', '--url', url, 'SELECT * FROM missing_table');
    expect(result.code).toBe(1);
    expect(result.err).toContain('SQLITE_ERROR no such table: missing_table');
  });

  it('checks an embedded database and an unreachable host', async () => {
    const ok = await cli('check', '--url', url);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/reachable {2}embedded {2}SQLite 3\.\d+/);
    // Port 1 on loopback: refused at once, no server needed.
    const down = await cli(
      'check',
      '--url',
      'postgres://u:pw1@127.0.0.1:1/db',
      '--timeout',
      '2000',
      '--json',
    );
    expect(down.code).toBe(1);
    const [host] = JSON.parse(down.out);
    expect(host).toMatchObject({ host: '127.0.0.1:1', reachable: false });
    expect(host.error).toContain('ECONNREFUSED');
    expect(down.out).not.toContain('pw1');
  });
});
