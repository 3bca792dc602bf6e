import type { Classification } from './classification.js';
import {
  AmbiguousCommitError,
  isAmbiguousCommitError,
  isAttemptTimeoutError,
  isDeadlineExceededError,
} from './errors.js';
import type { GiveUpReason, RetryMatcher } from './execute-options.js';
import type { ResolvedExecuteOptions } from './resolve-execute-options.js';

/** What one failed attempt means, before attempts, deadline and budget are counted. */
export interface Judgement {
  /** Set when the call must stop now. */
  readonly reason: GiveUpReason | undefined;
  /** What the call rejects with if it stops: the original error (E4), unless noted otherwise. */
  readonly thrown: unknown;
  readonly retryable: boolean;
  readonly classification: Classification | undefined;
}

/**
 * Judges a failed attempt: the caller's abort first (E8: reject with signal.reason), then a failed
 * rollback (the scope's state is unknown: never retry on it), then retryOn (E3), the classifier, and
 * ambiguity (E9: only an idempotent call replays work that may have committed; otherwise the error becomes
 * an AmbiguousCommitError whose cause is the original).
 */
export function judgeFailure(
  error: unknown,
  options: ResolvedExecuteOptions,
  name: string,
  rollbackFailed: boolean,
): Judgement {
  const signal = options.signal;
  if (signal?.aborted === true) return stop('aborted', signal.reason);
  let retryable = false;
  let classification: Classification | undefined;
  if (isCandidate(error, options.retryOn)) {
    const verdict = options.classifier(error);
    if (typeof verdict === 'boolean') retryable = verdict;
    else {
      classification = verdict;
      retryable = verdict.retryable;
    }
  }
  if (rollbackFailed) return { reason: 'rollback-failed', thrown: error, retryable, classification };
  if (classification?.ambiguous === true) {
    if (options.idempotent) return { reason: undefined, thrown: error, retryable: true, classification };
    const thrown = isAmbiguousCommitError(error) ? error : new AmbiguousCommitError(name, { cause: error });
    return { reason: 'ambiguous', thrown, retryable: false, classification };
  }
  if (!retryable) {
    const reason = isDeadlineExceededError(error) ? 'deadline' : 'not-retryable';
    return { reason, thrown: error, retryable, classification };
  }
  return { reason: undefined, thrown: error, retryable, classification };
}

function stop(reason: GiveUpReason, thrown: unknown): Judgement {
  return { reason, thrown, retryable: false, classification: undefined };
}

/** E3: only errors matching retryOn may be retried; dbop's own attempt timeout always may (E6). */
function isCandidate(error: unknown, retryOn: readonly RetryMatcher[] | undefined): boolean {
  if (retryOn === undefined || isAttemptTimeoutError(error)) return true;
  for (const matcher of retryOn) {
    if (isErrorClass(matcher) ? error instanceof matcher : (matcher as (error: unknown) => boolean)(error))
      return true;
  }
  return false;
}

function isErrorClass(matcher: RetryMatcher): matcher is abstract new (...args: never[]) => unknown {
  return matcher === Error || (matcher.prototype !== undefined && matcher.prototype instanceof Error);
}
