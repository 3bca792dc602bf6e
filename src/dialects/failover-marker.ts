const marker: symbol = Symbol.for('dbop.demotedWriter');

/**
 * Marks an error a write connection got because its server is (no longer) writable: the old primary after a
 * failover answering 25006, MySQL 1290/1836. Such a read-only error is then retryable at connection scope:
 * the connection layer drops the connection and finds the primary again. Unmarked, read-only stays final
 * (a write sent to a server that will stay read-only). Non-enumerable; returns the error.
 */
export function markDemotedWriter<T>(error: T): T {
  if (typeof error === 'object' && error !== null && Object.isExtensible(error)) {
    Object.defineProperty(error, marker, { value: true, configurable: true });
  }
  return error;
}

/** True when {@link markDemotedWriter} marked this error. */
export function isMarkedDemotedWriter(error: object): boolean {
  return (error as Record<symbol, unknown>)[marker] === true;
}
