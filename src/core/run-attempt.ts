import type { AttemptContext } from './attempt.js';
import type { AttemptGuard } from './attempt-guard.js';
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
 * One attempt with its scope: begin, preAttempt, op, then commit; rollback after any failure, a commit
 * failure, a timeout or an abort included. When the guard fires, the hung step is not awaited: the signal is
 * already aborted (sessions cancel on it) and rollback runs at once. Commit is not raced: like
 * statement_timeout, the attempt limit does not cover COMMIT, whose interruption would make it ambiguous.
 */
export async function runAttempt<T>(
  op: Operation<T>,
  options: ResolvedExecuteOptions,
  context: AttemptContext,
  guard: AttemptGuard | undefined,
): Promise<T> {
  const scope = options.scope?.(context);
  // Whether rollback is owed: begin was called and did not fail on its own.
  let open = false;
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
      await (guard === undefined ? prepared : guard.race(prepared));
    }
    const result = op(context);
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
    throw error;
  }
}
