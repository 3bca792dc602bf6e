import { AsyncLocalStorage } from 'node:async_hooks';
import type { CallAllowance } from './call-allowance.js';
import type { ConcurrencyLimiter } from './concurrency-limiter.js';

/**
 * What the attempt of a call running now passes on to every call started inside it, however that call
 * reaches the database: the limiters whose permit it holds (a nested unit does not queue behind itself)
 * and the call's allowance (E14: a nested call's retries and deadline are the outer call's).
 */
export interface UnitContext {
  readonly limiters: readonly ConcurrencyLimiter[];
  readonly allowance: CallAllowance | undefined;
  /** The context the attempt was started in, if any: what its leftovers see once it has ended. */
  readonly parent: UnitContext | undefined;
  /**
   * Set when the attempt settled. Timers, emitters and pools it started keep the context, but the calls
   * they make later are not nested: its permit is released, its allowance and deadline are not theirs.
   */
  ended?: boolean;
}

// One AsyncLocalStorage for both, entered once per attempt: on Node 20 each run() costs promise hooks.
const units = new AsyncLocalStorage<UnitContext>();

/** The context of the attempt the caller runs in, if it runs in one. */
export function currentUnit(): UnitContext | undefined {
  let unit = units.getStore();
  while (unit?.ended === true) unit = unit.parent;
  return unit;
}

/** Runs fn(...args) as (part of) an attempt with this context. */
export function runInUnit<A extends unknown[], T>(
  context: UnitContext,
  fn: (...args: A) => T,
  ...args: A
): T {
  return units.run(context, fn, ...args);
}
