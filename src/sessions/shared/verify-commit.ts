import { AmbiguousCommitError } from '../../core/errors.js';

// The mark lives in core so that classify() reads it too.
export { isCommitInFlight, markCommitInFlight } from '../../core/commit-marker.js';

import type { CommitStatus } from './session-driver.js';

const verified: symbol = Symbol.for('dbop.commitVerified');
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
  options: { readonly polls?: number; readonly intervalMs?: number; readonly reachWithinMs?: number } = {},
): Promise<void> {
  const polls = options.polls ?? 50;
  const started = Date.now();
  for (let poll = 1; ; poll += 1) {
    let outcome: CommitStatus;
    try {
      outcome = await status();
    } catch {
      // The server cannot be asked right now (restarting after a fast shutdown, say): the answer is still
      // there once it is back, so keep asking for as long as a call rides out an outage.
      if (Date.now() - started < (options.reachWithinMs ?? 15_000)) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      }
      outcome = 'unknown';
    }
    if (outcome === 'committed') return;
    if (outcome === 'aborted') {
      if (typeof error === 'object' && error !== null) {
        Object.defineProperty(error, verified, { value: 'aborted', configurable: true });
      }
      throw error;
    }
    if (outcome === 'other history') {
      throw new AmbiguousCommitError(
        'commit',
        { cause: error },
        "commit: the outcome is unknown: the connection was lost during COMMIT and the server that answered the lookup does not hold the transaction's history (another timeline or system: a failover happened), so its answer proves nothing; not retried because the call is not idempotent",
      );
    }
    // The killed backend may still be finishing its commit: give it a moment before deciding.
    if (outcome !== 'in progress' || poll >= polls)
      throw new AmbiguousCommitError('commit', { cause: error });
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}
