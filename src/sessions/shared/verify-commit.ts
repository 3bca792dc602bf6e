import { AmbiguousCommitError } from '../../core/errors.js';
import type { CommitStatus } from './session-driver.js';

const verified: symbol = Symbol.for('dbop.commitVerified');
const commitInFlight: symbol = Symbol.for('dbop.commitInFlight');

/** Marks an error that a COMMIT in flight received (its outcome may be unknown); returns the error. */
export function markCommitInFlight<T>(error: T): T {
  if (typeof error === 'object' && error !== null && Object.isExtensible(error)) {
    Object.defineProperty(error, commitInFlight, { value: true, configurable: true });
  }
  return error;
}

/** True for an error marked by {@link markCommitInFlight}. */
export function isCommitInFlight(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[commitInFlight] === true
  );
}

/** True when the session asked the server and learned that this failed COMMIT did not commit. */
export function isVerifiedAbort(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[verified] === 'aborted'
  );
}

/**
 * Settles a COMMIT whose connection was lost: committed resolves (the work is in), aborted rethrows the
 * original error marked as verified (safe to retry), anything else throws AmbiguousCommitError.
 */
export async function verifyCommit(
  error: unknown,
  status: () => Promise<CommitStatus>,
  options: { readonly polls?: number; readonly intervalMs?: number } = {},
): Promise<void> {
  const polls = options.polls ?? 50;
  for (let poll = 1; ; poll += 1) {
    let outcome: CommitStatus;
    try {
      outcome = await status();
    } catch {
      outcome = 'unknown';
    }
    if (outcome === 'committed') return;
    if (outcome === 'aborted') {
      if (typeof error === 'object' && error !== null) {
        Object.defineProperty(error, verified, { value: 'aborted', configurable: true });
      }
      throw error;
    }
    // The killed backend may still be finishing its commit: give it a moment before deciding.
    if (outcome !== 'in progress' || poll >= polls)
      throw new AmbiguousCommitError('commit', { cause: error });
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}
