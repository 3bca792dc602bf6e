// A global symbol, so two copies of dbop in one process agree on it.
const marker: symbol = Symbol.for('dbop.commitInFlight');

/**
 * Marks an error that arrived while a COMMIT (or the RELEASE that ends the outermost savepoint) was in flight:
 * the server may or may not have committed. Sessions mark; classify() reads the mark as `inFlight: 'commit'`.
 * Non-enumerable, so it never shows in logs. Returns the error.
 */
export function markCommitInFlight<T>(error: T): T {
  if (typeof error === 'object' && error !== null && Object.isExtensible(error)) {
    Object.defineProperty(error, marker, { value: true, configurable: true });
  }
  return error;
}

/** True for an error marked by {@link markCommitInFlight}. */
export function isCommitInFlight(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[marker] === true;
}
