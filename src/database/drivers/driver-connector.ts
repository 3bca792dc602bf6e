import type { Backend } from '../../core/classification.js';
import type { PoolCounts } from '../local-pool.js';

/** Rows one at a time. */
export type RowStream = AsyncIterable<Record<string, unknown>>;

/**
 * What the facade needs from one driver: pooled raw connections and a row stream. The raw connection is
 * what the driver's session adapter wraps.
 */
export interface DriverConnector {
  readonly backend: Backend;
  acquire(): Promise<unknown>;
  /** Gives the connection back; `destroy` closes it instead (its state is unknown). */
  release(raw: unknown, destroy: boolean): Promise<void>;
  close(): Promise<void>;
  counts(): PoolCounts;
  /** Streams rows with the driver's own cursor; undefined where the facade uses a SQL cursor (postgres). */
  stream?(raw: unknown, sql: string, values: readonly unknown[]): RowStream;
}

/** Pool and driver settings createDatabase resolved. */
export interface ConnectorSettings {
  readonly max: number;
  readonly connectTimeoutMs: number;
  /** SQLite only. */
  readonly busyTimeoutMs: number;
  /** SQLite only: switch file databases to WAL so readers and one writer work side by side. */
  readonly wal: boolean;
}
