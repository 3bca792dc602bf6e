import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { describeIfPostgres, postgresUrl } from '../../support/servers.js';

const fixture = fileURLToPath(new URL('./fixtures/pg-kill-storm.ts', import.meta.url));
const tsx = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url));

interface StormReport {
  readonly succeeded: number;
  readonly typed: Record<string, number>;
  readonly untyped: string[];
  readonly kills: number;
  readonly after: unknown[];
}

/** Runs the storm in a child: an unhandled 'error' event exits it non-zero, which rejects here. */
async function storm(mode: 'transaction' | 'query', max: number): Promise<StormReport> {
  const { stdout } = await promisify(execFile)(tsx, [fixture, postgresUrl(), mode, String(max), '4000'], {
    timeout: 90_000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as StormReport;
}

// Issue 9: backends killed every 0-15 ms, some just as the connection comes up, when pg-pool has taken its
// own 'error' listener off the client and the session has not added one yet. The process must survive, and
// every call must succeed or fail with a typed error; the database works afterwards.
describeIfPostgres('a pg_terminate_backend storm (pg)', () => {
  it('never crashes the process: every call succeeds or fails typed', async () => {
    const reports = await Promise.all([storm('transaction', 1), storm('query', 10)]);
    for (const report of reports) {
      expect(report.untyped).toEqual([]);
      expect(report.kills).toBeGreaterThan(0);
      // Calls were made and each ended (succeeded or typed). On a loaded 2-core machine a connection can take
      // longer to come up than the 0-15 ms between kills, and a CI run saw all of one storm's calls fail typed:
      // that is the behaviour under test, not a failure of it.
      const typedCount = Object.values(report.typed).reduce((sum, n) => sum + n, 0);
      expect(report.succeeded + typedCount).toBeGreaterThan(0);
      expect(report.after).toEqual([{ one: 1 }]);
    }
  });
});
