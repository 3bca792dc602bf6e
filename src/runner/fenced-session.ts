import type { AttemptContext } from '../core/attempt.js';
import { isStopped } from '../core/attempt-context.js';
import { type Session, statementMethods } from '../core/session.js';

/**
 * The session as one attempt's step sees it: once the attempt ended (its signal aborted: attempt timeout,
 * deadline, the caller's abort), every statement the step still tries rejects with the signal's reason. A
 * step abandoned at its time limit keeps running as JavaScript; without the fence its next statements would
 * run after dbop rolled the attempt back, in autocommit, in the retry's transaction, or on a connection the
 * pool already gave to someone else. Only statements sent through the session are fenced, not the raw
 * driver handle. The attempt's end is read without making its AbortSignal (see Attempt.stopped), and each
 * member is made once per fence rather than on every read.
 */
export function fenceSession<Raw>(session: Session<Raw>, context: AttemptContext): Session<Raw> {
  const made = new Map<PropertyKey, { readonly method: unknown; readonly member: unknown }>();
  const fenced = new Proxy(session, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const known = made.get(property);
      if (known !== undefined && known.method === value) return known.member;
      const method = value as (...args: unknown[]) => unknown;
      const member = statementMethods.has(property)
        ? (...args: unknown[]) =>
            isStopped(context) ? Promise.reject(context.signal.reason) : method.apply(target, args)
        : method.bind(target);
      made.set(property, { method: value, member });
      return member;
    },
  });
  fences.set(fenced, { session, context });
  return fenced;
}

// The session under each fence and the attempt it fences.
const fences = new WeakMap<object, { readonly session: Session; readonly context: AttemptContext }>();

/**
 * True when `error` is the fence of `session` refusing a statement (the signal's reason, once its attempt
 * ended): the step ran on after its abort or time limit, and the database said nothing.
 */
export function fencedOut(session: object, error: unknown): boolean {
  const fence = fences.get(session);
  return fence !== undefined && isStopped(fence.context) && error === fence.context.signal.reason;
}

/**
 * The session under the fence, or the session itself when it is not fenced: for a caller that refuses
 * statements after the attempt's end itself (DatabaseConnection.execute), one proxy fewer per statement.
 */
export function unfenced<Raw>(session: Session<Raw>): Session<Raw> {
  return (fences.get(session)?.session as Session<Raw> | undefined) ?? session;
}
