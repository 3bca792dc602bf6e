import { CallAllowance } from '../core/call-allowance.js';
import { systemClock } from '../core/clock.js';
import type { RetryBudget } from '../core/retry-budget.js';
import type { Session } from '../core/session.js';
import { currentUnit } from '../core/unit-context.js';

// The allowance of the call that owns each connection's transaction now. Keyed by the driver's connection,
// which every wrapper of a session (the runner's fence, the facade's counting proxy) shares.
const owners = new WeakMap<object, CallAllowance>();

function keyOf(session: Session): object {
  const raw = session.raw;
  return typeof raw === 'object' && raw !== null ? raw : session;
}

/** The allowance of the call whose transaction is open on this session's connection, if dbop owns one. */
export function ownerAllowance(session: Session): CallAllowance | undefined {
  return owners.get(keyOf(session));
}

/**
 * One owning call (runner.transaction, or run() opening its own transaction): its allowance, and the
 * connections its attempts ran on, for as long as the call runs (rule E14). A call started inside another
 * call's attempt (db.run() in db.transaction()'s fn, on another connection) owns its connection, but its
 * allowance is the outer call's: execute clamps its deadline to what is left of the outer one.
 */
export class CallOwner {
  readonly allowance: CallAllowance;
  /** True when the allowance is an outer call's. */
  readonly nested: boolean;
  readonly #held: object[] = [];

  constructor(maxRetries: number, deadlineMs: number | undefined, shared: RetryBudget | undefined) {
    const outer = currentUnit()?.allowance;
    this.nested = outer !== undefined;
    if (outer !== undefined) this.allowance = outer;
    else {
      const deadlineAt = deadlineMs === undefined ? Number.POSITIVE_INFINITY : systemClock.now() + deadlineMs;
      this.allowance = new CallAllowance(maxRetries, deadlineAt, shared);
    }
  }

  /** Steps nested on this session's connection draw from this call's allowance from now on. */
  hold(session: Session): void {
    const key = keyOf(session);
    if (owners.get(key) === this.allowance) return;
    owners.set(key, this.allowance);
    this.#held.push(key);
  }

  /** The call ended: its connections (back in the pool, maybe someone else's now) are no longer its. */
  end(): void {
    for (const key of this.#held) if (owners.get(key) === this.allowance) owners.delete(key);
    this.#held.length = 0;
  }
}

/**
 * The deadline of a step nested in an owner's transaction: its own, clamped to what is left of the owner's
 * (at least 1 ms, so a step started at the owner's deadline fails at once rather than run unbounded).
 */
export function nestedDeadlineMs(own: number | undefined, owner: CallAllowance): number | undefined {
  const msLeft = owner.msLeft();
  if (msLeft === Number.POSITIVE_INFINITY) return own;
  const left = Math.max(1, msLeft);
  return own === undefined ? left : Math.min(own, left);
}
