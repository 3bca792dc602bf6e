const marker: symbol = Symbol.for('dbop.cancelledByDbop');

/**
 * Marks a driver error as the result of a cancel dbop itself sent (attempt timeout), for code that classifies
 * it later without the `cancelledByDbop` hint. Non-enumerable, so it never shows in logs; returns the error.
 */
export function markCancelledByDbop<T>(error: T): T {
  if (typeof error === 'object' && error !== null && Object.isExtensible(error)) {
    Object.defineProperty(error, marker, { value: true, configurable: true });
  }
  return error;
}

/** True when {@link markCancelledByDbop} marked this error. */
export function isMarkedCancelledByDbop(error: object): boolean {
  return (error as Record<symbol, unknown>)[marker] === true;
}
