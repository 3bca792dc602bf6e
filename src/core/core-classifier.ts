import type { Classification } from './classification.js';
import { coreErrorCodes, isDbopError } from './errors.js';

const attemptTimeout: Classification = Object.freeze({
  kind: 'attempt-timeout',
  retryable: true,
  scope: 'statement',
  ambiguous: false,
  code: coreErrorCodes.attemptTimeout,
});

const deadlineExceeded: Classification = Object.freeze({
  kind: 'attempt-timeout',
  retryable: false,
  scope: 'none',
  ambiguous: false,
  code: coreErrorCodes.deadlineExceeded,
});

const ambiguousCommit: Classification = Object.freeze({
  kind: 'connection-lost',
  retryable: false,
  scope: 'connection',
  ambiguous: true,
  code: coreErrorCodes.ambiguousCommit,
});

const aborted: Classification = Object.freeze({
  kind: 'cancelled',
  retryable: false,
  scope: 'none',
  ambiguous: false,
});

/**
 * The classifier core's execute uses when none is given, knowing no database: dbop's own errors are
 * classified (an attempt timeout is retryable; a deadline, an ambiguous commit or an abort is not), and any
 * other error that passed `retryOn` is retryable, as in dbop-core without a classifier. The public `execute`
 * uses the dialects' classify() instead.
 */
export function coreClassifier(error: unknown): boolean | Classification {
  if (isDbopError(error)) {
    if (error.code === coreErrorCodes.attemptTimeout) return attemptTimeout;
    if (error.code === coreErrorCodes.deadlineExceeded) return deadlineExceeded;
    if (error.code === coreErrorCodes.ambiguousCommit) return ambiguousCommit;
  }
  if (error instanceof Error && error.name === 'AbortError') return aborted;
  return true;
}
