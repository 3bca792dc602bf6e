import { type Session, statementMethods } from '../core/session.js';

/**
 * The session as one attempt's step sees it: once the attempt ended (its signal aborted: attempt timeout,
 * deadline, the caller's abort), every statement the step still tries rejects with the signal's reason. A
 * step abandoned at its time limit keeps running as JavaScript; without the fence its next statements would
 * run after dbop rolled the attempt back, in autocommit, in the retry's transaction, or on a connection the
 * pool already gave to someone else. Only statements sent through the session are fenced, not the raw
 * driver handle.
 */
export function fenceSession<Raw>(session: Session<Raw>, signal: AbortSignal): Session<Raw> {
  const fenced = new Proxy(session, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (!statementMethods.has(property)) return value.bind(target);
      return (...args: unknown[]) =>
        signal.aborted
          ? Promise.reject(signal.reason)
          : (value as (...a: unknown[]) => unknown).apply(target, args);
    },
  });
  fences.set(fenced, signal);
  return fenced;
}

// The signal of each fenced session: its refusals are told from the database's own errors by it.
const fences = new WeakMap<object, AbortSignal>();

/**
 * True when `error` is the fence of `session` refusing a statement (the signal's reason, once its attempt
 * ended): the step ran on after its abort or time limit, and the database said nothing.
 */
export function fencedOut(session: object, error: unknown): boolean {
  const signal = fences.get(session);
  return signal?.aborted === true && error === signal.reason;
}
