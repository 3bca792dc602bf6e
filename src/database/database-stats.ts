import type { Backend } from '../core/classification.js';
import type { LimiterStats } from '../core/concurrency-limiter.js';
import type { PoolCounts } from './drivers/driver-connector.js';
import type { ErrorCounts } from './error-counter.js';

/** What Database.stats() reports. Frozen. */
export interface DatabaseStats {
  readonly backend: Backend;
  /** Connections: open in total, idle, callers waiting for one, and in use by this Database. */
  readonly pool: PoolCounts & { readonly inUse: number };
  /** Every database error seen, by kind and by `backend:code`. */
  readonly errors: ErrorCounts;
  /** The concurrency limiter's current limit, units in flight and queued; absent with `limiter: false`. */
  readonly limiter?: LimiterStats;
}
