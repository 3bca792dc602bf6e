import type { Backend } from '../../core/classification.js';
import type { Session, SessionSource } from '../../core/session.js';

/** Counts a connector's pool reports. */
export interface PoolCounts {
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
}

/** Rows one at a time. */
export type RowStream = AsyncIterable<Record<string, unknown>>;

/**
 * What the facade needs from one driver: a source of sessions over pooled connections, and a row stream.
 * release() discards a session that was destroyed or left in a transaction instead of reusing it.
 */
export interface DriverConnector extends SessionSource {
  /** The backend; for a mysql:// URL it is known once the first connection saw the server's version. */
  backend(): Backend;
  close(): Promise<void>;
  counts(): PoolCounts;
  /**
   * A session for readOnly work, where the connector knows servers of several roles (a standby, falling back
   * to the primary). Absent: readOnly work takes acquire() like everything else.
   */
  acquireReader?(signal?: AbortSignal): Promise<Session>;
  /**
   * Runs a unit's body (fn) as inside `session`'s transaction, where the driver tells a nested unit that
   * would wait for that transaction's lock (SQLite: fails it at once). Absent: fn just runs.
   */
  enclose?<T>(session: Session, fn: () => T | PromiseLike<T>): Promise<T>;
  /** Streams rows with the driver's own cursor; absent where the facade uses a SQL cursor (postgres). */
  stream?(session: Session, sql: string, values: readonly unknown[]): RowStream;
}

/** Pool and driver settings createDatabase resolved. */
export interface ConnectorSettings {
  readonly max: number;
  readonly connectTimeoutMs: number;
  /** The pool's name in errors and diagnostics messages: the redacted URL. */
  readonly name: string;
  /** The knobs of dbop's pool the caller set (minIdle, acquireTimeoutMs, idleTimeoutMs, maxLifetimeMs, leakDetectionMs). */
  readonly pool: Readonly<
    Partial<
      Record<'minIdle' | 'acquireTimeoutMs' | 'idleTimeoutMs' | 'maxLifetimeMs' | 'leakDetectionMs', number>
    >
  >;
  /** SQLite only: the connections' own busy timeout (ms). */
  readonly busyTimeoutMs: number;
  /** SQLite only: how long BEGIN IMMEDIATE waits for the write lock without blocking (ms). */
  readonly lockWaitMs: number;
  /** SQLite only: switch file databases to WAL so readers and one writer work side by side. */
  readonly wal: boolean;
  /** MySQL family: verify lost COMMITs with commit-marker rows. */
  readonly verifyCommits: boolean;
}
