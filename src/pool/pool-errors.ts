import { redactSecrets } from '../connect/redact-secrets.js';
import { DbopError, type DbopErrorOptions } from '../core/errors.js';

/** Stable codes of the errors the pool throws. */
export const poolErrorCodes: {
  readonly timeout: 'DBOP_POOL_TIMEOUT';
  readonly closed: 'DBOP_POOL_CLOSED';
  readonly notAcquired: 'DBOP_POOL_NOT_ACQUIRED';
  readonly endedOnOpen: 'DBOP_CONNECTION_ENDED_ON_OPEN';
} = Object.freeze({
  timeout: 'DBOP_POOL_TIMEOUT',
  closed: 'DBOP_POOL_CLOSED',
  notAcquired: 'DBOP_POOL_NOT_ACQUIRED',
  endedOnOpen: 'DBOP_CONNECTION_ENDED_ON_OPEN',
});

/** Who held a connection when an acquire timed out: how long, and where it was acquired when known. */
export interface PoolHolder {
  readonly heldMs: number;
  /** The `holder` label the acquirer gave, if any. */
  readonly holder?: string;
  /** The acquirer's stack (recorded only with `leakDetectionMs`, as capturing one costs microseconds). */
  readonly stack?: string;
}

/**
 * No connection within `acquireTimeoutMs`. The message names the likely cause: every connection held
 * (with the holders, longest first) or connections that cannot be opened (the last connect error, also
 * the `cause`). Classified as 'pool-exhausted'.
 */
export class PoolTimeoutError extends DbopError {
  readonly pool: string;
  readonly timeoutMs: number;
  readonly max: number;
  readonly holders: readonly PoolHolder[];
  /** The last error a connection attempt ended with, when the pool could not open one. */
  readonly lastConnectError: unknown;

  constructor(details: PoolTimeoutDetails) {
    const { pool, timeoutMs, max, holders, lastConnectError } = details;
    const options: DbopErrorOptions = lastConnectError === undefined ? {} : { cause: lastConnectError };
    super(poolErrorCodes.timeout, timeoutMessage(details), options);
    this.pool = pool;
    this.timeoutMs = timeoutMs;
    this.max = max;
    this.holders = holders;
    this.lastConnectError = lastConnectError;
  }
}

/** What a {@link PoolTimeoutError} reports. */
export interface PoolTimeoutDetails {
  readonly pool: string;
  readonly timeoutMs: number;
  readonly max: number;
  /** The borrowed connections, longest held first. */
  readonly holders: readonly PoolHolder[];
  readonly lastConnectError: unknown;
  /** Other callers still waiting. */
  readonly pending: number;
}

function timeoutMessage({
  pool,
  timeoutMs,
  max,
  holders,
  lastConnectError,
  pending,
}: PoolTimeoutDetails): string {
  const head = `${pool}: no connection within ${timeoutMs} ms`;
  if (holders.length < max && lastConnectError !== undefined) {
    // A driver's or a factory's message may quote a URL or a password: never repeated in ours.
    const reason = redactSecrets(
      lastConnectError instanceof Error ? lastConnectError.message : String(lastConnectError),
    );
    return `${head}: opening a connection fails (last error: ${reason}); ${holders.length} of ${max} in use`;
  }
  const longest = holders[0];
  const where =
    longest === undefined
      ? ''
      : `; the longest held for ${Math.round(longest.heldMs)} ms${longest.holder === undefined ? '' : ` by ${longest.holder}`}${
          longest.stack === undefined
            ? ' (set leakDetectionMs to see where it was acquired)'
            : `, acquired at\n${longest.stack}`
        }`;
  return `${head}: all ${holders.length} of ${max} connections are in use, ${pending} callers waiting${where}`;
}

/** The pool was closed: acquire() after close(), or a waiter still queued when close() ran. */
export class PoolClosedError extends DbopError {
  constructor(pool: string) {
    super(poolErrorCodes.closed, `${pool} is closed`);
  }
}

/**
 * release() or destroy() of a connection this pool did not hand out, or one already released; or a second
 * release() or destroy() of a {@link PoolLease} (its connection may be lent to another caller by then).
 */
export class ConnectionNotAcquiredError extends DbopError {
  constructor(pool: string, lease = false) {
    super(
      poolErrorCodes.notAcquired,
      lease
        ? `${pool}: release() or destroy() of a lease already released (its connection may be lent to another caller now)`
        : `${pool}: release() of a connection that is not acquired from this pool (released twice?)`,
    );
  }
}

/**
 * A new connection the server ended before it was lent (killed during the handshake: the driver saw the
 * FATAL before the pool's listener was attached). Nothing ran on it: classified connect-failed, retryable.
 */
export class ConnectionEndedOnOpenError extends DbopError {
  constructor(pool: string) {
    super(poolErrorCodes.endedOnOpen, `${pool}: the server ended the connection as it opened`);
  }
}
