import { parseDsn } from '../../connect/parse-dsn.js';
import type { CliCommand } from '../cli-command.js';
import type { CliIo } from '../cli-io.js';
import { formatDemoReport } from '../demo/demo-report.js';
import { ProgressLine } from '../demo/progress-line.js';
import { runDemo } from '../demo/run-demo.js';
import { integerFlag, numberFlag, parseCommandArgs } from '../parse-command-args.js';
import { UsageError } from '../usage-error.js';

const help = `Usage: dbop demo [--url URL] [--workers N] [--accounts N] [--duration S] [--no-retry] [--json]

A bank-transfer workload with real contention: workers move money between a few accounts, each transfer
one transaction that locks two rows. It shows live progress, then a report: committed transfers,
attempts, retries by kind, failures, latency p50/p99, and an audit of the books (total balance
unchanged, no lost or doubled transfer). Exit code 0 only when the books balance.

  --url URL        postgres://, mysql:// or mariadb:// server (tables are created and dropped);
                   default: an embedded SQLite file in a temp dir. DATABASE_URL is not read: the
                   demo loads a server only when its command line names one
  --workers N      concurrent workers, one connection each (default 8)
  --accounts N     accounts to move money between; fewer means more contention (default 10;
                   50 on PostgreSQL, whose deadlock detector waits deadlock_timeout, 1 s, per deadlock)
  --duration S     seconds to run (default 5)
  --no-retry       the same workload without dbop: one BEGIN ... COMMIT per transfer, failures stay failures
  --json           print the report as JSON on stdout (progress still goes to stderr)

Examples:
  dbop demo
  dbop demo --no-retry
  dbop demo --url postgres://postgres@localhost:5432/postgres --workers 16
`;

/** `dbop demo`: the bank-transfer workload (K1). */
export const demoCommand: CliCommand = {
  name: 'demo',
  summary: 'bank transfers under real contention, with and without dbop',
  help,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const parsed = parseCommandArgs(
      'demo',
      args,
      {
        url: { type: 'string' },
        workers: { type: 'string' },
        accounts: { type: 'string' },
        duration: { type: 'string' },
        'no-retry': { type: 'boolean' },
        json: { type: 'boolean' },
      },
      0,
    );
    const url = parsed.values.url as string | undefined;
    if (url === undefined && (io.env.DATABASE_URL ?? '') !== '') {
      io.stderr.write('dbop demo: DATABASE_URL is ignored; pass --url to run the demo on a server\n');
    }
    if (url !== undefined) {
      const target = parseDsn(url);
      if (target.hosts === undefined) {
        throw new UsageError(
          'dbop demo: --url must be a postgres://, mysql:// or mariadb:// server; omit it for SQLite',
        );
      }
    }
    const workers = integerFlag('demo', parsed, 'workers', { min: 1, max: 256, fallback: 8 });
    const accounts =
      parsed.values.accounts === undefined
        ? undefined
        : integerFlag('demo', parsed, 'accounts', { min: 2, max: 100_000, fallback: 10 });
    const durationS = numberFlag('demo', parsed, 'duration', { min: 0.1, max: 3600, fallback: 5 });
    const json = parsed.values.json === true;
    const progress = new ProgressLine(io.stderr);
    // Ctrl-C ends the run early but still audits the books and drops the tables.
    const interrupt = new AbortController();
    const onSigint = (): void => interrupt.abort();
    process.once('SIGINT', onSigint);
    const report = await runDemo({
      signal: interrupt.signal,
      ...(url === undefined ? {} : { url }),
      workers,
      ...(accounts === undefined ? {} : { accounts }),
      durationS,
      retry: parsed.values['no-retry'] !== true,
      onProgress: (snapshot) => progress.update(snapshot),
    }).finally(() => process.removeListener('SIGINT', onSigint));
    progress.done();
    io.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatDemoReport(report));
    return report.invariant.holds ? 0 : 1;
  },
};
