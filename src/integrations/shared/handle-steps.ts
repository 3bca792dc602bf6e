import type { AttemptContext } from '../../core/attempt.js';
import type { Session } from '../../core/session.js';
import type { DbOpRunner } from '../../runner/dbop-runner.js';
import type { RunOptions } from '../../runner/runner-options.js';
import { boundaryViolation } from '../../sessions/shared/transaction-boundary.js';

/**
 * Which dbop transaction each ORM handle passed to a retryTransaction callback belongs to, so step(handle)
 * runs its nested step (a SAVEPOINT) on that transaction's session with that call's runner.
 */
export class HandleSteps {
  readonly #owners = new WeakMap<object, { readonly runner: DbOpRunner; readonly session: Session }>();

  /** Records that handle runs on session, for the runner's calls. */
  own(handle: object, runner: DbOpRunner, session: Session): void {
    this.#owners.set(handle, { runner, session });
  }

  /** Runs fn as a nested step (runner.run in a SAVEPOINT) of the transaction handle belongs to. */
  step<H extends object, T>(
    handle: H,
    fn: (handle: H, attempt: AttemptContext) => T | PromiseLike<T>,
    options: RunOptions<never> | undefined,
  ): Promise<T> {
    const owner = this.#owners.get(handle);
    if (owner === undefined) {
      return Promise.reject(
        new TypeError('step() needs the transaction handle retryTransaction() passed to its callback'),
      );
    }
    return owner.runner.run(owner.session, (_session, attempt) => fn(handle, attempt), options) as Promise<T>;
  }
}

/**
 * Throws when a statement an ORM sends through dbop's transaction must not reach the connection: the
 * attempt was abandoned (timed out, aborted), or the statement would end the transaction.
 */
export function checkStatement(sql: unknown, session: Session, attempt: AttemptContext): void {
  attempt.signal.throwIfAborted();
  const refused = typeof sql === 'string' ? boundaryViolation(sql, session.dialect) : undefined;
  if (refused !== undefined) throw refused;
}
