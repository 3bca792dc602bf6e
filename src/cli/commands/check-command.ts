import { buildDsn } from '../../connect/build-dsn.js';
import { distinctHosts } from '../../connect/connection-factory.js';
import type { Dsn, DsnHost } from '../../connect/dsn.js';
import { formatDsn } from '../../connect/format-dsn.js';
import { parseDsn } from '../../connect/parse-dsn.js';
import { probeRole } from '../../connect/probe-role.js';
import type { HostRole } from '../../connect/target-session-attrs.js';
import { isDbopError } from '../../core/errors.js';
import { createDatabase } from '../../database/create-database.js';
import type { Database } from '../../database/database.js';
import type { DriverMissingError } from '../../database/database-errors.js';
import type { CliCommand } from '../cli-command.js';
import type { CliIo } from '../cli-io.js';
import { commandUrl } from '../command-url.js';
import { errorLine } from '../error-line.js';
import { integerFlag, parseCommandArgs } from '../parse-command-args.js';

const help = `Usage: dbop check [--url URL] [--timeout MS] [--json]

Checks each host of a database URL: reachable or not (and why), role (primary, standby, read-only,
unavailable, embedded), a Postgres standby's replay lag, server version, connect time and the round-trip
latency of one query. Passwords never appear in the output.

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
  /** Postgres standbys: how far replay is behind what was received (bytes) and the last replayed commit (ms ago). */
  readonly lag?: { readonly bytes: number; readonly replayedMsAgo?: number };
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
    // A host listed twice is checked (and reported) once.
    const hosts = target.hosts === undefined ? [undefined] : distinctHosts(target.hosts);
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
      // This host as it is, whatever role the URL asks for: no target_session_attrs.
      url: formatDsn(
        host === undefined ? target : buildDsn(target, { hosts: [host], query: hostQuery(target) }),
      ),
      max: 1,
      maxRetries: 0,
      // A check reports the host as it is now: no riding out an outage.
      outageMs: 0,
      connectTimeoutMs,
    });
    const options = { name: 'dbop check', lockTimeoutMs: null } as const;
    const probe = await db.query<{ version: unknown }>(versionSql(db.backend), undefined, options);
    const connectMs = performance.now() - started;
    const ping = performance.now();
    await db.query('SELECT 1', undefined, options);
    const latencyMs = performance.now() - ping;
    // The same probe the connection layer routes by (Postgres recovery and read-only, MySQL read_only,
    // Galera's node state).
    const role = await db.acquire((conn) => probeRole(conn.session));
    const embedded = target.backend === 'sqlite' || target.driver === '@electric-sql/pglite';
    const lag = role.standby && db.backend === 'postgres' ? await standbyLag(db) : undefined;
    return {
      host: label,
      reachable: true,
      role: embedded ? 'embedded' : roleName(role),
      ...(lag === undefined ? {} : { lag }),
      version: String(probe.rows[0]?.version),
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

function versionSql(backend: string): string {
  if (backend === 'sqlite') return "SELECT 'SQLite ' || sqlite_version() AS version";
  return backend === 'postgres' ? 'SELECT version() AS version' : 'SELECT VERSION() AS version';
}

/** The URL's query without the connection layer's parameters. */
function hostQuery(target: Dsn): Record<string, string> {
  const { target_session_attrs: _t, load_balance_hosts: _l, ...rest } = target.query ?? {};
  return rest;
}

function roleName(role: HostRole): string {
  if (role.unavailable !== undefined) return `unavailable (${role.unavailable})`;
  if (role.standby) return 'standby';
  return role.readOnly ? 'read-only' : 'primary';
}

async function standbyLag(db: Database): Promise<HostCheck['lag']> {
  const { rows } = await db.query<{ bytes: unknown; ms: unknown }>(
    'SELECT coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0) AS bytes, ' +
      'extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000 AS ms',
    undefined,
    { name: 'dbop check', lockTimeoutMs: null },
  );
  const ms = rows[0]?.ms;
  return {
    bytes: Number(rows[0]?.bytes ?? 0),
    ...(ms === null || ms === undefined ? {} : { replayedMsAgo: Math.round(Number(ms)) }),
  };
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
  const lag =
    result.lag === undefined
      ? ''
      : `  lag ${result.lag.bytes} bytes${result.lag.replayedMsAgo === undefined ? '' : `, last replay ${result.lag.replayedMsAgo} ms ago`}`;
  return `${result.host}  reachable  ${result.role}${lag}  ${result.version}  connect ${result.connectMs} ms, query ${result.latencyMs} ms`;
}
