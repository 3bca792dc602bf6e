import { isDbopError } from './errors.js';

/** Properties under which drivers and ORMs keep the error they wrap. */
export const causeKeys = ['cause', 'original', 'parent', 'driverError', 'orig', 'meta'] as const;

/**
 * The innermost error an error wraps (following the first of {@link causeKeys} present, or an
 * AggregateError's first error), with a message: the driver's own, not an ORM wrapper's (whose first line
 * is often the SQL, or the SQL with its values). The error itself when it wraps nothing, or when it is one
 * of dbop's own errors: an AttemptTimeoutError or DeadlineExceededError says more than its cause.
 */
export function innermostError(error: unknown): unknown {
  if (isDbopError(error)) return error;
  let found = error;
  let current = error;
  const seen = new Set<unknown>([error]);
  for (let depth = 0; depth < 8; depth++) {
    const next = wrapped(current);
    if (next === undefined || seen.has(next) || isDbopError(next)) break;
    seen.add(next);
    current = next;
    const message = (next as { message?: unknown }).message;
    if (typeof message === 'string' && message !== '') found = next;
  }
  return found;
}

function wrapped(error: unknown): object | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const record = error as Record<string, unknown>;
  for (const key of causeKeys) {
    const value = record[key];
    if (typeof value === 'object' && value !== null) return value;
  }
  const errors = record.errors;
  if (Array.isArray(errors) && typeof errors[0] === 'object' && errors[0] !== null) return errors[0];
  return undefined;
}
