import { onAbort } from './abort-listener.js';
import type { AttemptContext } from './attempt.js';
import type { AttemptGuard } from './attempt-guard.js';
import { isAttemptTimeoutError } from './errors.js';
import type { Operation } from './execute-options.js';
import type { ResolvedExecuteOptions } from './resolve-execute-options.js';

/** Thrown by {@link runAttempt} when the scope's rollback failed after the attempt's own error. */
export class RollbackFailure {
  readonly error: unknown;
  readonly rollbackError: unknown;

  constructor(error: unknown, rollbackError: unknown) {
    this.error = error;
    this.rollbackError = rollbackError;
  }
}

/**
 * Thrown by {@link runAttempt} when an attempt with no scope timed out and its op was still running after
 * the cleanup limit: dbop could not stop it, so it may yet apply its work (E13).
 */
export class StillRunning {
  readonly error: unknown;

  constructor(error: unknown) {
    this.error = error;
  }
}

/**
 * One attempt with its scope: begin, preAttempt, op, then commit; rollback after any failure, a commit
 * failure, a timeout or an abort included. When the guard fires, the hung step is not awaited: the signal is
 * already aborted (sessions cancel on it) and rollback runs at once. Commit is not raced: like
 * statement_timeout, the attempt limit does not cover COMMIT, whose interruption would make it ambiguous.
 * Without a scope nothing can stop the op on the server: one that timed out is awaited, up to the cleanup
 * limit and the deadline, so attempts never overlap (E13); if it then succeeded, its value is the attempt's.
 */
export async function runAttempt<T>(
  op: Operation<T>,
  options: ResolvedExecuteOptions,
  context: AttemptContext,
  guard: AttemptGuard | undefined,
  deadlineAt: number,
): Promise<T> {
  const scope = options.scope?.(context);
  // Whether rollback is owed: begin was called and did not fail on its own.
  let open = false;
  // The step in flight, raced against the guard: what keeps running if the guard fires.
  let step: unknown;
  let stepIsOp = false;
  try {
    if (scope !== undefined) {
      const begun = scope.begin(context);
      open = true;
      try {
        await (guard === undefined ? begun : guard.race(begun));
      } catch (error) {
        // A begin still in flight when the limit fired may have opened something; one that failed did not.
        if (guard?.fired !== true) open = false;
        throw error;
      }
    }
    if (options.preAttempt !== undefined) {
      const prepared = options.preAttempt(context);
      step = prepared;
      await (guard === undefined ? prepared : guard.race(prepared));
    }
    const result = op(context);
    step = result;
    stepIsOp = true;
    const value = await (guard === undefined ? result : guard.race(result));
    guard?.disarm();
    if (scope !== undefined) await scope.commit(context);
    return value;
  } catch (error) {
    guard?.disarm();
    if (open && scope !== undefined) {
      try {
        await scope.rollback(context, error);
      } catch (rollbackError) {
        throw new RollbackFailure(error, rollbackError);
      }
    }
    // With a scope, the rollback stopped the work on the server. Without one, only the op's end tells.
    if (scope === undefined && guard?.fired === true && isAttemptTimeoutError(error) && isThenable(step)) {
      return awaitAbandoned(step as PromiseLike<T>, stepIsOp, error, options, deadlineAt);
    }
    throw error;
  }
}

/**
 * Waits for an op abandoned at its time limit: its value if it succeeded after all (its work is done; a
 * retry would do it twice), the timeout if it failed, {@link StillRunning} if it has not ended by the
 * cleanup limit or the deadline. A preAttempt that ends late is only awaited: the op never ran. The
 * caller's abort ends the wait at once.
 */
function awaitAbandoned<T>(
  step: PromiseLike<T>,
  isOp: boolean,
  timeout: unknown,
  options: ResolvedExecuteOptions,
  deadlineAt: number,
): Promise<T> {
  const { clock, signal } = options;
  const limitMs = Math.max(0, Math.min(options.cleanupTimeoutMs, deadlineAt - clock.now()));
  return new Promise<T>((resolve, reject) => {
    const end = (settle: () => void): void => {
      clock.clearTimeout(timer);
      stop?.();
      settle();
    };
    const timer = clock.setTimeout(() => end(() => reject(new StillRunning(timeout))), limitMs);
    const stop = signal === undefined ? undefined : onAbort(signal, () => end(() => reject(timeout)));
    step.then(
      (value) => end(() => (isOp ? resolve(value) : reject(timeout))),
      () => end(() => reject(timeout)),
    );
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}
