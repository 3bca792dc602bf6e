/** The retry policy of the demo's transfers: enough attempts to ride out heavy contention, short waits. */
export const demoPolicy: {
  readonly maxRetries: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
} = Object.freeze({ maxRetries: 50, initialDelayMs: 2, maxDelayMs: 50 });

/**
 * SQLite's lock wait in each mode: --no-retry shows the contention as it comes, every SQLITE_BUSY a failed
 * transfer (no wait for the lock either); with dbop, BEGIN IMMEDIATE waits for the lock (the default).
 */
export function sqliteLockWait(retry: boolean): { readonly sqliteLockWaitMs?: number } {
  return retry ? {} : { sqliteLockWaitMs: 0 };
}
