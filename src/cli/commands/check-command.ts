import { buildDsn } from '../../connect/build-dsn.js';
import type { Dsn, DsnHost } from '../../connect/dsn.js';
import { formatDsn } from '../../connect/format-dsn.js';
import { parseDsn } from '../../connect/parse-dsn.js';
import { isDbopError } from '../../core/errors.js';
import { createDatabase } from '../../database/create-database.js';
import type { DriverMissingError } from '../../database/database-errors.js';
import type { CliCommand } from '../cli-command.js';
import type { CliIo } from '../cli-io.js';
import { commandUrl } from '../command-url.js';
import { errorLine } from '../error-line.js';
import { integerFlag, parseCommandArgs } from '../parse-command-args.js';

const help = `Usage: dbop check [--url URL] [--timeout MS] [--json]

Checks each host of a database URL: reachable or not (and why), role (primary, standby, read-only,
embedded), server version, connect time and the round-trip latency of one query.

  --url URL       postgres://, mysql://, mariadb://, sqlite:PATH or pglite:PATH; several hosts as
                  postgres://user@host1:5432,host2:5433/db; default: the DATABASE_URL
                  environment variable
  --timeout MS    connect timeout per host (default 5000)
  --json          print the results as JSON

Exit code 0 when every host is reachable, 1 otherwise.
`;

/** What `dbop check` found out about one host. */
export interface HostCheck {
  readonly host: string;
  readonly reachable: boolean;
  /** Set when the URL's driver package is not installed: nothing was tried on the network. */
  readonly driverMissing?: string;
  readonly role?: string;
  readonly version?: string;
  readonly connectMs?: number;
  readonly latencyMs?: number;
  readonly error?: string;
}

/** `dbop check --url URL`: reachability, role, version and latency of each host (K2). */
export const checkCommand: CliCommand = {
  name: 'check',
  summary: 'check each host of a URL: reachable, role, version, latency',
  help,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const parsed = parseCommandArgs(
      'check',
      args,
      { url: { type: 'string' }, timeout: { type: 'string' }, json: { type: 'boolean' } },
      0,
    );
    const url = commandUrl('check', parsed.values.url, io);
    const connectTimeoutMs = integerFlag('check', parsed, 'timeout', {
      min: 1,
      max: 600_000,
      fallback: 5000,
    });
    const target = parseDsn(url);
    const hosts = target.hosts ?? [undefined];
    const results: HostCheck[] = [];
    for (const host of hosts) results.push(await checkHost(target, host, connectTimeoutMs));
    if (parsed.values.json === true) io.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    else for (const result of results) io.stdout.write(`${describe(result)}\n`);
    return results.every((result) => result.reachable) ? 0 : 1;
  },
};

async function checkHost(
  target: Dsn,
  host: DsnHost | undefined,
  connectTimeoutMs: number,
): Promise<HostCheck> {
  const label =
    host === undefined
      ? (target.path ?? target.redacted)
      : `${host.host}:${host.port ?? defaultPort(target)}`;
  const started = performance.now();
  let db: Awaited<ReturnType<typeof createDatabase>> | undefined;
  try {
    db = await createDatabase({
      url: formatDsn(host === undefined ? target : buildDsn(target, { hosts: [host] })),
      max: 1,
      maxRetries: 0,
      // A check reports the host as it is now: no riding out an outage.
      outageMs: 0,
      connectTimeoutMs,
    });
    const probe = await db.query<{ version: unknown; role: unknown }>(
      probeSql(db.backend, target),
      undefined,
      { name: 'dbop check', lockTimeoutMs: null },
    );
    const connectMs = performance.now() - started;
    const ping = performance.now();
    await db.query('SELECT 1', undefined, { name: 'dbop check', lockTimeoutMs: null });
    const latencyMs = performance.now() - ping;
    const row = probe.rows[0];
    return {
      host: label,
      reachable: true,
      role: String(row?.role),
      version: String(row?.version),
      connectMs: round(connectMs),
      latencyMs: round(latencyMs),
    };
  } catch (error) {
    // A URL the driver settings refuse is the caller's mistake, as in `dbop run`: a usage error, exit 2.
    if (isDbopError(error, 'DBOP_BAD_URL')) throw error;
    if (isDbopError(error, 'DBOP_DRIVER_MISSING')) {
      const missing = (error as DriverMissingError).packageName;
      return { host: label, reachable: false, driverMissing: missing, error: driverMissing(missing) };
    }
    return { host: label, reachable: false, error: errorLine(error).replace(/^dbop: /, '') };
  } finally {
    await db?.close().catch(() => undefined);
  }
}

function probeSql(backend: string, target: Dsn): string {
  if (backend === 'sqlite') return "SELECT 'SQLite ' || sqlite_version() AS version, 'embedded' AS role";
  if (backend === 'postgres') {
    const embedded = target.driver === '@electric-sql/pglite';
    return (
      `SELECT version() AS version, CASE WHEN ${embedded ? 'false' : 'pg_is_in_recovery()'} THEN 'standby' ` +
      `WHEN current_setting('default_transaction_read_only') = 'on' THEN 'read-only' ELSE '${embedded ? 'embedded' : 'primary'}' END AS role`
    );
  }
  return "SELECT VERSION() AS version, CASE WHEN @@read_only = 1 THEN 'read-only' ELSE 'primary' END AS role";
}

function defaultPort(target: Dsn): number {
  return target.backend === 'postgres' ? 5432 : 3306;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function driverMissing(packageName: string): string {
  return `driver not installed (npm install ${packageName})`;
}

function describe(result: HostCheck): string {
  if (result.driverMissing !== undefined) return `${result.host}  ${driverMissing(result.driverMissing)}`;
  if (!result.reachable) return `${result.host}  unreachable  ${result.error ?? ''}`;
  return `${result.host}  reachable  ${result.role}  ${result.version}  connect ${result.connectMs} ms, query ${result.latencyMs} ms`;
}
