import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoReport } from '../../../src/cli/demo/demo-report.js';
import { main } from '../../../src/cli/main.js';
import { describeIfPostgres, postgresUrl } from '../../support/servers.js';
import { recordingIo } from '../../unit/cli/cli-test-io.js';

const root = resolve(import.meta.dirname, '../../..');

// A checkout whose node_modules lacks pg, as on a machine where only another driver was installed: src/
// and package.json copied, every other package linked. The CLI runs in a child process through tsx.
describe('dbop check without the URL driver installed', () => {
  let checkout: string;

  beforeAll(() => {
    checkout = mkdtempSync(join(tmpdir(), 'dbop-no-pg-'));
    cpSync(join(root, 'src'), join(checkout, 'src'), { recursive: true });
    cpSync(join(root, 'package.json'), join(checkout, 'package.json'));
    mkdirSync(join(checkout, 'node_modules'));
    for (const entry of readdirSync(join(root, 'node_modules'))) {
      if (entry !== 'pg')
        symlinkSync(join(root, 'node_modules', entry), join(checkout, 'node_modules', entry));
    }
  });
  afterAll(() => rmSync(checkout, { recursive: true, force: true }));

  async function dbop(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    return promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', ...args], {
      cwd: checkout,
      env: { ...process.env, DATABASE_URL: '' },
    }).then(
      ({ stdout, stderr }) => ({ code: 0, out: stdout, err: stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({
        code: error.code,
        out: error.stdout,
        err: error.stderr,
      }),
    );
  }

  it('says "driver not installed (npm install pg)", not "unreachable", and exits 1', async () => {
    // Port 1: were the driver there, this would be "unreachable ... ECONNREFUSED".
    const url = 'postgres://app:s3cret@127.0.0.1:1/shop';
    const text = await dbop('check', '--url', url);
    expect(text).toMatchObject({ code: 1, out: '127.0.0.1:1  driver not installed (npm install pg)\n' });
    const json = await dbop('check', '--url', url, '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toEqual([
      {
        host: '127.0.0.1:1',
        reachable: false,
        driverMissing: 'pg',
        error: 'driver not installed (npm install pg)',
      },
    ]);
    expect(text.out + text.err + json.out + json.err).not.toContain('s3cret');
  }, 120_000);
});

describeIfPostgres('dbop run and check on DATABASE_URL, against PostgreSQL', () => {
  it('take the server from DATABASE_URL when --url is absent', async () => {
    const io = { ...recordingIo(), env: { DATABASE_URL: postgresUrl() } };
    expect(await main(['run', '--json', 'SELECT 41 + 1 AS answer'], io), io.err()).toBe(0);
    expect(JSON.parse(io.out())).toEqual([{ answer: 42 }]);
    const check = { ...recordingIo(), env: { DATABASE_URL: postgresUrl() } };
    expect(await main(['check'], check), check.err()).toBe(0);
    expect(check.out()).toMatch(/^127\.0\.0\.1:\d+ {2}reachable {2}primary {2}PostgreSQL/);
  });
});

describe('dbop demo with DATABASE_URL set', () => {
  it('stays on embedded SQLite (the demo loads only a server its command line names) and says so', async () => {
    const io = { ...recordingIo(), env: { DATABASE_URL: 'postgres://app:s3cret@127.0.0.1:1/shop' } };
    const code = await main(['demo', '--json', '--duration', '0.5'], io);
    expect(code, io.err()).toBe(0);
    expect((JSON.parse(io.out()) as DemoReport).backend).toBe('sqlite');
    expect(io.err()).toContain('dbop demo: DATABASE_URL is ignored; pass --url to run the demo on a server');
    expect(io.err()).not.toContain('s3cret');
  });
});
