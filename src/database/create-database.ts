import type { Dsn } from '../connect/dsn.js';
import { parseDsn } from '../connect/parse-dsn.js';
import { ConcurrencyLimiter } from '../core/concurrency-limiter.js';
import {
  expectIntegerAtLeast,
  expectOptionalBoolean,
  expectOptions,
  maxTimeoutMs,
  orDefault,
} from '../core/validate.js';
import { classify } from '../dialects/classify.js';
import { resolvePoolOptions } from '../pool/pool-options.js';
import { DbOpRunner } from '../runner/dbop-runner.js';
import { type DbOpRunnerOptions, runnerOptionKeys } from '../runner/runner-options.js';
import type { ParameterDialect } from './bind-parameters.js';
import { Database } from './database.js';
import type { ConnectorSettings } from './drivers/driver-connector.js';
import {
  type MultiHostSettings,
  openMultiHostConnector,
  usesConnectLayer,
} from './drivers/multi-host-connector.js';
import { openConnector } from './drivers/open-connector.js';
import { ErrorCounter } from './error-counter.js';
import { operationTarget } from './operation-target.js';

/**
 * Options of {@link createDatabase}: the URL, the pool, and the retry policy every run() and transaction()
 * uses. `limiter` defaults to a ConcurrencyLimiter of at most `max` units; pass false to admit every unit.
 */
export interface DatabaseOptions extends DbOpRunnerOptions {
  readonly url: string;
  /** Most connections open at once. Default 10; SQLite :memory: and PGlite always 1. */
  readonly max?: number;
  /** How long opening a connection may take, ms. Default 10000. */
  readonly connectTimeoutMs?: number;
  /**
   * SQLite: the longest synchronous lock wait, ms. better-sqlite3 blocks the event loop while it waits, so
   * the default 0 leaves waiting to dbop's async backoff.
   */
  readonly sqliteBusyTimeoutMs?: number;
  /**
   * SQLite: how long a write transaction's BEGIN IMMEDIATE waits for the write lock, ms, without blocking
   * the event loop. Writers of this thread take turns (each waits for the one before to end); a writer in
   * another thread or process is polled for after 1, 2, 5, 10 ... ms, as SQLite's busy handler does. Past
   * this, SQLITE_BUSY goes to the retry policy. Default 1000; 0 answers SQLITE_BUSY at once. A COMMIT that
   * readers' locks hold back (rollback journal, `sqliteWal: false`) waits the same way. A write started in
   * a write transaction's callback on another connection of the file would wait for its own caller: it
   * fails at once (DBOP_NESTED_WRITE).
   */
  readonly sqliteLockWaitMs?: number;
  /** SQLite: switch a file database to WAL (readers and one writer side by side). Default true. */
  readonly sqliteWal?: boolean;
  /**
   * MySQL and MariaDB: verify a COMMIT whose connection was lost instead of reporting AmbiguousCommitError.
   * Each write transaction then inserts a row into `dbop_commit_marker` (created on first use, pruned after an
   * hour) with its COMMIT, and a lost COMMIT is settled by looking that row up on another connection: one
   * more statement (a round trip) per write transaction. Default false. Postgres verifies without it (its
   * transaction ids); SQLite needs none (a COMMIT cannot be lost in flight in the same process).
   */
  readonly verifyCommits?: boolean;
  /**
   * The URL points at a pooler in transaction mode (pgbouncer `pool_mode = transaction`, or any proxy that
   * hands each transaction a server connection of its own choosing); also `?pgbouncer=true` in a postgres://
   * URL. Every call then runs in a transaction of its own and its timeouts are transaction-local
   * (`set_config(..., true)`), so no setting is left on a server connection another client gets next.
   * Without it, query() keeps the timeouts as the connection's own settings (`SET lock_timeout = ...`),
   * which behind such a pooler reach other clients and may miss the statement they were meant for. It
   * costs query() its one-round-trip path: BEGIN and COMMIT ride along. Default false.
   */
  readonly transactionPooler?: boolean;
  /**
   * Multi-host URLs: readOnly work goes to a standby (prefer-standby, falling back to the primary), which
   * may not have replayed this Database's latest writes yet. For this many ms after a write connection
   * was last given back, readOnly work stays on the primary instead, so it reads its own writes. Default 0.
   */
  readonly readYourWritesMs?: number;
  /** Connections kept open even when idle. Default 0. */
  readonly minIdle?: number;
  /** How long a caller waits for a connection, ms; then PoolTimeoutError. Default 30000. */
  readonly acquireTimeoutMs?: number;
  /** An idle connection beyond minIdle is closed after this long, ms; 0 never. Default 600000. */
  readonly idleTimeoutMs?: number;
  /** A connection is retired after this long (minus up to 2.5% jitter), ms; 0 never. Default 1800000. */
  readonly maxLifetimeMs?: number;
  /** A connection held longer than this, ms, is reported with the acquirer's stack. Default off. */
  readonly leakDetectionMs?: number;
}

/**
 * Opens a database by URL: postgres:// or postgresql:// (pg), mysql:// (mysql2), mariadb:// (mariadb),
 * sqlite:PATH (better-sqlite3), pglite:PATH or pglite:memory. The driver is imported on first use; a
 * missing one fails with the package to install. The driver gets the parsed settings, never the URL; errors
 * and `db.url` never show the password.
 * @example
 * const db = await createDatabase('postgres://app@localhost/shop');
 * await db.transaction((conn) => conn.execute('UPDATE stock SET n = n - 1 WHERE sku = :sku', { sku: 'A-1' }));
 */
export async function createDatabase(urlOrOptions: string | DatabaseOptions): Promise<Database> {
  if (urlOrOptions === undefined) throw new TypeError('Expected a database URL or options, got undefined');
  const options: DatabaseOptions =
    typeof urlOrOptions === 'string'
      ? { url: urlOrOptions }
      : expectOptions(urlOrOptions, databaseKeys, 'createDatabase()');
  const target = parseDsn(options.url);
  const settings = resolveSettings(options, target);
  const pooler = transactionPooler(options, target);
  const {
    url: _url,
    max: _max,
    connectTimeoutMs: _c,
    sqliteBusyTimeoutMs: _b,
    sqliteLockWaitMs: _l,
    sqliteWal: _w,
    verifyCommits: _v,
    transactionPooler: _t,
    readYourWritesMs: _r,
    minIdle: _minIdle,
    acquireTimeoutMs: _acquire,
    idleTimeoutMs: _idle,
    maxLifetimeMs: _lifetime,
    leakDetectionMs: _leak,
    ...runnerOptions
  } = options;
  // On by default: one limiter per Database, so every unit on this pool shares one view of contention.
  const limiter =
    runnerOptions.limiter === undefined
      ? new ConcurrencyLimiter({ maxLimit: settings.max, name: target.redacted })
      : runnerOptions.limiter;
  const runner = new DbOpRunner({
    ...runnerOptions,
    limiter,
    target: runnerOptions.target ?? operationTarget(target),
  });
  const connector = usesConnectLayer(target)
    ? await openMultiHostConnector(target, settings, multiHostSettings(options), (dsn) =>
        openConnector(dsn, settings),
      )
    : await openConnector(target, settings);
  return new Database({
    redactedUrl: target.redacted,
    connector,
    runner,
    errors: new ErrorCounter((error) => classify(error, { dialect: connector.backend() })),
    parameters: parameterDialect(target),
    transactionPooler: pooler,
  });
}

// The knobs of dbop's pool createDatabase passes on.
const poolKeys = [
  'minIdle',
  'acquireTimeoutMs',
  'idleTimeoutMs',
  'maxLifetimeMs',
  'leakDetectionMs',
] as const;

const databaseKeys: ReadonlySet<string> = new Set([
  'url',
  'max',
  'connectTimeoutMs',
  'sqliteBusyTimeoutMs',
  'sqliteLockWaitMs',
  'sqliteWal',
  'verifyCommits',
  'transactionPooler',
  'readYourWritesMs',
  ...poolKeys,
  ...runnerOptionKeys,
]);

/** The option, else the URL's `pgbouncer=true` (validated by the driver's URL reading). */
function transactionPooler(options: DatabaseOptions, target: Dsn): boolean {
  expectOptionalBoolean('transactionPooler', options.transactionPooler);
  return options.transactionPooler ?? target.query?.pgbouncer === 'true';
}

function parameterDialect(target: Dsn): ParameterDialect {
  if (target.backend === 'sqlite') return 'sqlite';
  return target.backend === 'postgres' || target.backend === 'cockroach' ? 'postgres' : 'mysql';
}

function resolveSettings(options: DatabaseOptions, target: Dsn): ConnectorSettings {
  const name = target.redacted;
  const max = expectIntegerAtLeast('max', orDefault(options.max, 10), 1);
  const connectTimeoutMs = expectIntegerAtLeast(
    'connectTimeoutMs',
    orDefault(options.connectTimeoutMs, 10_000),
    1,
    maxTimeoutMs,
  );
  // SQLite keeps its busy timeout in a C int.
  const busyTimeoutMs = expectIntegerAtLeast(
    'sqliteBusyTimeoutMs',
    orDefault(options.sqliteBusyTimeoutMs, 0),
    0,
    maxTimeoutMs,
  );
  const lockWaitMs = expectIntegerAtLeast(
    'sqliteLockWaitMs',
    orDefault(options.sqliteLockWaitMs, 1000),
    0,
    maxTimeoutMs,
  );
  const wal = orDefault(options.sqliteWal, true);
  expectOptionalBoolean('sqliteWal', wal);
  const verifyCommits = orDefault(options.verifyCommits, false);
  expectOptionalBoolean('verifyCommits', verifyCommits);
  const pool: Record<string, unknown> = {};
  for (const key of poolKeys) {
    const value = options[key];
    if (value === undefined) continue;
    pool[key] = value;
  }
  // Validates them with the pool's own messages (and minIdle against max).
  resolvePoolOptions({ max, ...pool }, 'createDatabase()');
  return Object.freeze({
    max,
    connectTimeoutMs,
    name,
    busyTimeoutMs,
    lockWaitMs,
    wal,
    verifyCommits,
    pool: Object.freeze(pool) as ConnectorSettings['pool'],
  });
}

function multiHostSettings(options: DatabaseOptions): MultiHostSettings {
  const readYourWritesMs = expectIntegerAtLeast(
    'readYourWritesMs',
    orDefault(options.readYourWritesMs, 0),
    0,
    maxTimeoutMs,
  );
  return Object.freeze({ readYourWritesMs });
}
