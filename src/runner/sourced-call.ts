import type { AttemptContext, AttemptScope } from '../core/attempt.js';
import { type AttemptScopeOptions, attemptScope } from '../core/attempt-scope.js';
import type { Backend } from '../core/classification.js';
import type { Session, SessionSource } from '../core/session.js';

/**
 * One runner.transaction() call over a SessionSource: every attempt takes a fresh session, runs its scope
 * on it and gives it back exactly once, so a connection lost in one attempt is not the next one's.
 */
export class SourcedCall<Raw> {
  readonly #source: SessionSource<Raw>;
  readonly #options: AttemptScopeOptions;
  #current: Session<Raw> | undefined;
  #dialect: Backend | undefined;

  constructor(source: SessionSource<Raw>, options: AttemptScopeOptions) {
    this.#source = source;
    this.#options = options;
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

  async acquire(): Promise<Session<Raw>> {
    this.#current = await this.#source.acquire();
    this.#dialect = this.#current.dialect;
    return this.#current;
  }

  inner(session: Session<Raw>): AttemptScope {
    return attemptScope(session, this.#options);
  }

  release(session: Session<Raw>): Promise<void> {
    return this.#source.release(session);
  }
}

class SourcedScope<Raw> implements AttemptScope {
  readonly #call: SourcedCall<Raw>;
  #session: Session<Raw> | undefined;
  #inner: AttemptScope | undefined;

  constructor(call: SourcedCall<Raw>) {
    this.#call = call;
  }

  async begin(context: AttemptContext): Promise<void> {
    this.#session = await this.#call.acquire();
    this.#inner = this.#call.inner(this.#session);
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
    try {
      await this.#inner?.rollback(context, error);
    } finally {
      await this.#finish();
    }
  }

  // Given back exactly once per attempt, whichever of begin, commit and rollback ends it.
  async #finish(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    if (session !== undefined) await this.#call.release(session);
  }
}
