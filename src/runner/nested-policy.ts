import { type RetryPolicy, retryPolicy } from '../core/retry-policy.js';

/** The longest backoff of a step retried inside the caller's transaction (see {@link DbOpRunner.run}). */
export const nestedMaxDelayMs = 10;

/**
 * The runner's policy for a step inside the caller's transaction: the same attempts, backoff capped at
 * {@link nestedMaxDelayMs}. The step's locks went with ROLLBACK TO, the caller's did not: a long sleep
 * would hold them for nothing, while the lock wait itself (lockTimeoutMs) is the step's real wait.
 */
export function nestedPolicy(policy: RetryPolicy): RetryPolicy {
  return retryPolicy({
    maxRetries: policy.maxRetries,
    initialDelayMs: Math.min(policy.initialDelayMs, nestedMaxDelayMs),
    maxDelayMs: Math.min(policy.maxDelayMs, nestedMaxDelayMs),
    multiplier: policy.multiplier,
    jitter: policy.jitter,
  });
}
