import type { AttemptContext, AttemptScope } from '../core/attempt.js';
import { isStopped } from '../core/attempt-context.js';
import { type AttemptScopeOptions, attemptScope } from '../core/attempt-scope.js';
import type { Backend } from '../core/classification.js';
import { DbopError } from '../core/errors.js';
import type { Session, SessionSource } from '../core/session.js';

/** Chooses the scope options of one attempt (see {@link SourcedCall}). */
export type AttemptOptions = (
  options: AttemptScopeOptions,
  session: Session,
  context: AttemptContext,
) => AttemptScopeOptions;

/**
 * One runner.transaction() call over a SessionSource: every attempt takes a fresh session, runs its scope
 * on it and gives it back exactly once, so a connection lost in one attempt is not the next one's.
 */
export class SourcedCall<Raw> {
  readonly #source: SessionSource<Raw>;
  readonly #options: AttemptScopeOptions;
  readonly #perAttempt: AttemptOptions | undefined;
  #current: Session<Raw> | undefined;
  #dialect: Backend | undefined;

  /** `perAttempt` may change the scope options of one attempt on one session (its lock wait). */
  constructor(source: SessionSource<Raw>, options: AttemptScopeOptions, perAttempt?: AttemptOptions) {
    this.#source = source;
    this.#options = options;
    this.#perAttempt = perAttempt;
  }

  /** The backend of the last session taken, once one was. */
  get dialect(): Backend | undefined {
    return this.#dialect;
  }

  /** The session of the running attempt. */
  session(): Session<Raw> {
    return this.#current!;
  }

  /** The scope of the next attempt. */
  scope(): AttemptScope {
    return new SourcedScope(this);
  }

  acquire(signal: AbortSignal): Promise<Session<Raw>> {
    return this.#source.acquire(signal);
  }

  /** Makes the session the running attempt's (an acquisition that arrived too late never becomes it). */
  use(session: Session<Raw>): void {
    this.#current = session;
    this.#dialect = session.dialect;
  }

  inner(session: Session<Raw>, context: AttemptContext): AttemptScope {
    const perAttempt = this.#perAttempt;
    return attemptScope(
      session,
      perAttempt === undefined ? this.#options : perAttempt(this.#options, session, context),
    );
  }

  release(session: Session<Raw>): Promise<void> {
    return this.#source.release(session);
  }
}

class SourcedScope<Raw> implements AttemptScope {
  readonly #call: SourcedCall<Raw>;
  #session: Session<Raw> | undefined;
  #inner: AttemptScope | undefined;
  // Set once rollback ran: a session that arrives later is given back at once, never begun.
  #ended = false;

  constructor(call: SourcedCall<Raw>) {
    this.#call = call;
  }

  async begin(context: AttemptContext): Promise<void> {
    // The attempt's signal: a caller that gives up or times out while the pool is full leaves its queue.
    const session = await this.#call.acquire(context.signal);
    // The attempt's limit may have fired while the source was still handing out the session (a busy
    // pool): rollback has run and found nothing to undo, so this attempt must not BEGIN on it.
    if (this.#ended || isStopped(context)) {
      await this.#call.release(session);
      throw context.signal.reason ?? new DbopError('DBOP_ATTEMPT_ENDED', 'The attempt ended before it began');
    }
    this.#session = session;
    this.#call.use(session);
    this.#inner = this.#call.inner(session, context);
    try {
      await this.#inner.begin(context);
    } catch (error) {
      await this.#finish();
      throw error;
    }
  }

  async commit(context: AttemptContext): Promise<void> {
    try {
      await this.#inner!.commit(context);
    } finally {
      await this.#finish();
    }
  }

  async rollback(context: AttemptContext, error: unknown): Promise<void> {
    this.#ended = true;
    const session = this.#session;
    try {
      await this.#inner?.rollback(context, error);
    } catch (cleanupError) {
      // The session whose cleanup failed was destroyed and is given back as such; the next attempt takes a
      // fresh one, so the whole transaction can still be retried.
      if (session?.destroyed !== true) throw cleanupError;
    } finally {
      await this.#finish();
    }
  }

  // Given back exactly once per attempt, whichever of begin, commit and rollback ends it. Not an async
  // function (every attempt's path): the source's own promise, awaited by the caller.
  #finish(): Promise<void> | undefined {
    const session = this.#session;
    this.#session = undefined;
    return session === undefined ? undefined : this.#call.release(session);
  }
}
