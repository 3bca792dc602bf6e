import { clampTimeouts } from './apply-timeouts.js';
import type { AttemptContext } from './attempt.js';
import type { AttemptScopeOptions, SessionAttemptScope } from './attempt-scope.js';
import { markCommitInFlight } from './commit-marker.js';
import type { Session } from './session.js';
import { applySessionSettings } from './session-settings.js';
import { withLimit } from './with-limit.js';

/**
 * The scope of one autocommit statement on an idle session whose settings dbop owns: no BEGIN and no
 * COMMIT, so a statement costs the driver's one round trip; the timeouts are the connection's own
 * settings, sent only when they differ from what it has. The statement is its own commit: when a step that
 * may write fails, its error is marked as a commit in flight, so a lost connection is ambiguous (E9)
 * unless the step is readOnly (or the call idempotent).
 */
export class StatementScope implements SessionAttemptScope {
  readonly #session: Session;
  readonly #options: AttemptScopeOptions;
  #readOnly = false;
  #begun = false;

  constructor(session: Session, resolvedOptions: AttemptScopeOptions) {
    this.#session = session;
    this.#options = resolvedOptions;
  }

  /** Never a savepoint: false once begun. */
  get nested(): boolean | undefined {
    return this.#begun ? false : undefined;
  }

  begin(context: AttemptContext): Promise<void> {
    this.#readOnly = this.#options.readOnly ?? context.readOnly;
    this.#begun = true;
    return applySessionSettings(this.#session, clampTimeouts(this.#options, context.remainingMs()));
  }

  commit(): void {
    // The statement committed when it ran.
  }

  async rollback(_context: AttemptContext, error: unknown): Promise<void> {
    if (!this.#readOnly) markCommitInFlight(error);
    const session = this.#session;
    if (!session.busy || session.cancel === undefined || session.destroyed) return;
    // A timed-out statement still runs: cancel it within the cleanup limit, or the connection is destroyed.
    try {
      await withLimit(
        session.cancel().catch(() => undefined),
        this.#options.cleanupTimeoutMs ?? 5000,
      );
    } catch (cleanupError) {
      session.destroy(error);
      throw cleanupError;
    }
  }
}
