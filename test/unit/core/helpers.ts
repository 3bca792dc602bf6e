import type { AttemptContext, AttemptScope, ScopeFactory } from '../../../src/core/attempt.js';

/** An error the tests treat as transient. */
export class TransientError extends Error {
  override readonly name = 'TransientError';
}

/** An op that throws `errors[i]` on attempt i+1 and returns `value` once they run out; records contexts. */
export function scripted<T>(
  value: T,
  ...errors: unknown[]
): ((context: AttemptContext) => Promise<T>) & {
  readonly contexts: AttemptContext[];
} {
  const contexts: AttemptContext[] = [];
  const op = async (context: AttemptContext): Promise<T> => {
    contexts.push(context);
    const error = errors[contexts.length - 1];
    if (contexts.length <= errors.length) throw error;
    return value;
  };
  return Object.assign(op, { contexts });
}

/** An op that always throws the same error object. */
export function alwaysFailing(
  error: unknown,
): ((context: AttemptContext) => Promise<never>) & { calls: number } {
  const op = Object.assign(
    async (): Promise<never> => {
      op.calls++;
      throw error;
    },
    { calls: 0 },
  );
  return op;
}

/** A promise that never settles: an op or a scope step that hangs. */
export function hang(): Promise<never> {
  return new Promise<never>(() => {});
}

/** What a recording scope saw, in order, e.g. 'begin 1', 'commit 1', 'rollback 2 AttemptTimeoutError'. */
export interface RecordingScope {
  readonly factory: ScopeFactory;
  readonly log: string[];
  /** Rollbacks still owed: begins minus commits minus rollbacks. */
  open(): number;
}

/** A scope that records every call; steps can be made to fail or hang through `behave`. */
export function recordingScope(
  behave: Partial<Record<'begin' | 'commit' | 'rollback', (context: AttemptContext) => unknown>> = {},
): RecordingScope {
  const log: string[] = [];
  let open = 0;
  const factory: ScopeFactory = (): AttemptScope => ({
    begin(context) {
      log.push(`begin ${context.attempt}`);
      open++;
      return behave.begin?.(context) as Promise<void> | undefined;
    },
    commit(context) {
      log.push(`commit ${context.attempt}`);
      // A commit that fails leaves the scope open: the engine owes a rollback then.
      return Promise.resolve(behave.commit?.(context)).then(() => {
        open--;
      });
    },
    rollback(context, error) {
      log.push(`rollback ${context.attempt} ${error instanceof Error ? error.name : String(error)}`);
      open--;
      return behave.rollback?.(context) as Promise<void> | undefined;
    },
  });
  return { factory, log, open: () => open };
}

/** An op that runs until its attempt's signal aborts, then rejects with the signal's reason (it stopped). */
export function untilAborted(context: { readonly signal: AbortSignal }): Promise<never> {
  return new Promise<never>((_, reject) => {
    context.signal.addEventListener('abort', () => reject(context.signal.reason), { once: true });
  });
}
