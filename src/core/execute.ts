import { types } from 'node:util';
import { Attempt } from './attempt-context.js';
import { AttemptGuard, type SignalSource } from './attempt-guard.js';
import { CallAllowance } from './call-allowance.js';
import type { Classification, Classifier } from './classification.js';
import type { Clock } from './clock.js';
import {
  AdmissionTimeoutError,
  type ConcurrencyLimiter,
  contentionOutcome,
  type Permit,
} from './concurrency-limiter.js';
import { coreClassifier } from './core-classifier.js';
import { channels, type OperationMessage } from './diagnostics.js';
import { AttemptStillRunningError, AttemptTimeoutError, DeadlineExceededError } from './errors.js';
import type { ExecuteOptions, Operation } from './execute-options.js';
import { type Reporter, reportGiveUp, reportRetry, reportSuccess } from './execute-report.js';
import { judgeFailure } from './judge-failure.js';
import {
  type FallbackClassifiers,
  type ResolvedExecuteOptions,
  resolveExecuteOptions,
} from './resolve-execute-options.js';
import type { RetryBudget } from './retry-budget.js';
import { RollbackFailure, runAttempt, StillRunning } from './run-attempt.js';
import { sleep } from './sleep.js';
import { currentUnit, runInUnit, type UnitContext } from './unit-context.js';
import { invalid } from './validate.js';

/** The signature of execute: without `raises: false` it resolves to op's value or rejects. */
export interface ExecuteFunction {
  <T>(op: Operation<T>, options?: ExecuteOptions<never> & { readonly raises?: true }): Promise<T>;
  <T, D = undefined>(op: Operation<T>, options: ExecuteOptions<D>): Promise<T | D>;
}

// Attempts that nothing can abort share one signal, so the success path allocates no controller.
const neverAborted: SignalSource = Object.freeze({ signal: new AbortController().signal, fired: false });
let operations = 0;

/** Builds an execute whose classifier, when the caller names none, is `fallbackClassifier`. */
export function createExecute(fallbackClassifier: Classifier | FallbackClassifiers): ExecuteFunction {
  const defaults = resolveExecuteOptions({}, fallbackClassifier);
  return ((op: Operation<unknown>, options?: ExecuteOptions<unknown>) =>
    run(op, options, fallbackClassifier, defaults)) as ExecuteFunction;
}

/**
 * Runs `op(attempt)` with retries (rules E1 to E12), using core's database-agnostic classifier by default.
 * The `execute` exported from 'dbop' is the same engine with the dialects' classify() as default.
 * @example const response = await execute((attempt) => fetch(url, { signal: attempt.signal }), { attemptTimeoutMs: 2000 })
 */
export const execute: ExecuteFunction = createExecute(coreClassifier);

function run(
  op: Operation<unknown>,
  options: ExecuteOptions<unknown> | undefined,
  fallbackClassifier: Classifier | FallbackClassifiers,
  defaults: ResolvedExecuteOptions,
): Promise<unknown> {
  let o: ResolvedExecuteOptions;
  try {
    if (typeof op !== 'function') invalid('op', 'a function', op);
    o = options === undefined ? defaults : resolveExecuteOptions(options, fallbackClassifier);
  } catch (error) {
    return Promise.reject(error);
  }
  if (o.signal?.aborted === true) return Promise.reject(o.signal.reason);
  const name = o.name ?? (op.name || 'operation');
  const operationId = ++operations;
  o.budget?.recordCall();
  // E14: a call started inside another call's attempt draws its retries from that call's allowance and
  // ends by its deadline; a call started outside any makes its own allowance, for the calls inside it.
  const enclosing = currentUnit();
  const outer = enclosing?.allowance;
  let budget = o.budget;
  if (outer !== undefined && (budget === outer || !(budget instanceof CallAllowance))) {
    budget = outer;
    o = withinOuterDeadline(o, outer);
  }
  const { clock, signal } = o;
  const startedAt = clock.now();
  // A nested unit (a step inside a transaction that holds a permit) is not admitted again: on a limit of 1
  // it would wait for its own caller forever.
  const limiter =
    o.limiter !== undefined && enclosing?.limiters.includes(o.limiter) !== true ? o.limiter : undefined;
  // db.query's own statement starts no call of its own: its attempts need no context (see `leaf`). Any
  // other call's attempts run in one that hands on its allowance and, once admitted, its permit.
  let unit: UnitContext | undefined;
  if (!o.leaf) {
    if (!(budget instanceof CallAllowance)) {
      const deadlineAt = o.deadlineMs === undefined ? Number.POSITIVE_INFINITY : startedAt + o.deadlineMs;
      budget = new CallAllowance(o.policy.maxRetries, deadlineAt, budget, clock);
    }
    const held = enclosing?.limiters ?? noLimiters;
    unit = {
      limiters: limiter === undefined ? held : limiter.heldWith(held),
      allowance: budget,
      parent: enclosing,
    };
  }
  if (
    o.scope !== undefined ||
    o.limiter !== undefined ||
    o.preAttempt !== undefined ||
    o.attemptTimeoutMs !== undefined ||
    o.deadlineMs !== undefined ||
    signal !== undefined ||
    o.logger !== undefined ||
    o.onSuccess !== undefined ||
    channels.operation.hasSubscribers ||
    channels.attempt.hasSubscribers
  ) {
    return loop({ op, o, name, operationId, budget, limiter, unit }, startedAt, undefined);
  }
  // The hot path: a first attempt nothing can abort and nobody watches succeeds with no async frame, one
  // attempt context, the call's allowance and its unit context (one AsyncLocalStorage run) and one derived
  // promise; anything else continues in the full loop. (The failure
  // callbacks stay anonymous: under tsx/esbuild's keepNames a named per-call closure costs a defineProperty.)
  let result: unknown;
  try {
    const attempt = new Attempt(1, neverAborted, o.readOnly, name, startedAt, Infinity, clock);
    result = unit === undefined ? op(attempt) : runInUnit(unit, op, attempt);
  } catch (error) {
    if (unit !== undefined) unit.ended = true;
    return loop({ op, o, name, operationId, budget, limiter, unit }, startedAt, { error });
  }
  const settled = result instanceof Promise ? result : Promise.resolve(result);
  if (unit === undefined) {
    return settled.then(undefined, (error: unknown) =>
      loop({ op, o, name, operationId, budget, limiter, unit }, startedAt, { error }),
    );
  }
  const first = unit;
  return settled.then(
    (value: unknown) => {
      first.ended = true;
      return value;
    },
    (error: unknown) => {
      first.ended = true;
      return loop({ op, o, name, operationId, budget, limiter, unit }, startedAt, { error });
    },
  );
}

/** One call of execute, as run() settled it for the loop. */
interface Call {
  readonly op: Operation<unknown>;
  readonly o: ResolvedExecuteOptions;
  readonly name: string;
  readonly operationId: number;
  // The call's own allowance, or the outer call's (E14); a plain RetryBudget only for a leaf.
  readonly budget: RetryBudget | CallAllowance | undefined;
  // The limiter that admits each attempt (none when the context holds its permit already).
  readonly limiter: ConcurrencyLimiter | undefined;
  // The context its attempts run in (none for a leaf).
  readonly unit: UnitContext | undefined;
}

const noLimiters: readonly ConcurrencyLimiter[] = Object.freeze([]);

/**
 * A nested call's options with its deadline clamped to what is left of the outer call's (at least 1 ms,
 * so a call started at the outer deadline fails at once rather than run unbounded).
 */
function withinOuterDeadline(o: ResolvedExecuteOptions, outer: CallAllowance): ResolvedExecuteOptions {
  const msLeft = outer.msLeft();
  if (msLeft === Number.POSITIVE_INFINITY || (o.deadlineMs !== undefined && o.deadlineMs <= msLeft)) return o;
  return { ...o, deadlineMs: Math.max(1, Math.ceil(msLeft)) };
}

/** A fresh context for one attempt of a call, so that it can end with the attempt. */
function attemptUnit(unit: UnitContext | undefined): UnitContext | undefined {
  return unit === undefined
    ? undefined
    : { limiters: unit.limiters, allowance: unit.allowance, parent: unit.parent };
}

/** The full loop: scopes, limits, reports; `first` is the failure of a first attempt run on the hot path. */
async function loop(
  call: Call,
  callStartedAt: number,
  first: { readonly error: unknown } | undefined,
): Promise<unknown> {
  const { op, o, name, operationId, budget, limiter, unit } = call;
  const { clock, signal } = o;
  if (channels.operation.hasSubscribers && first === undefined) {
    const { readOnly, policy } = o;
    const maxRetries = policy.maxRetries;
    const message = {
      phase: 'start',
      operationId,
      name,
      readOnly,
      maxRetries,
      startedAt: callStartedAt,
    } satisfies OperationMessage;
    channels.operation.publish(o.target === undefined ? message : { ...message, target: o.target });
  }
  const deadlineAt = o.deadlineMs === undefined ? Number.POSITIVE_INFINITY : callStartedAt + o.deadlineMs;
  const guarded = o.attemptTimeoutMs !== undefined || o.deadlineMs !== undefined || signal !== undefined;
  const direct = !guarded && o.scope === undefined && o.preAttempt === undefined;
  let delays: Iterator<number, void> | undefined;
  let previousError: unknown;
  // The previous attempt failed on a serialization failure or a deadlock: it lost to other transactions.
  let lostToOthers = false;

  for (let attempt = 1; ; attempt++) {
    let permit: Permit | undefined;
    let waited = false;
    let waitStartedAt = 0;
    // The last try of a unit that lost to other transactions on its previous try runs alone: it cannot lose
    // to this limiter's units again.
    const alone = limiter !== undefined && lostToOthers && isLastTry(o, budget, attempt);
    if (limiter !== undefined) {
      permit = alone ? undefined : limiter.tryAcquire();
      if (permit === undefined) {
        waited = true;
        waitStartedAt = clock.now();
        try {
          const waitMs = deadlineAt === Number.POSITIVE_INFINITY ? undefined : deadlineAt - clock.now();
          permit = await (alone ? limiter.acquireAlone(signal, waitMs) : limiter.acquire(signal, waitMs));
          // Admitted at the very end of the deadline: an attempt that would be cut off at once is not begun.
          if (clock.now() >= deadlineAt) {
            permit.release('other');
            throw new AdmissionTimeoutError(waitMs ?? 0);
          }
        } catch (waitError) {
          return giveUpWaiting(
            o,
            { options: o, name, operationId },
            attempt - 1,
            waitError,
            previousError,
            callStartedAt,
          );
        }
      }
    }
    const startedAt = attempt === 1 && !waited ? callStartedAt : clock.now();
    // An attempt that already ran on the hot path was not announced; its end is not either.
    const announced = !(attempt === 1 && first !== undefined) && channels.attempt.hasSubscribers;
    if (announced) {
      channels.attempt.publish(
        waited
          ? { phase: 'start', operationId, name, attempt, limiterWaitMs: startedAt - waitStartedAt }
          : { phase: 'start', operationId, name, attempt },
      );
    }
    let value: unknown;
    let failed = false;
    let error: unknown;
    let rollbackError: unknown;
    let rollbackFailed = false;
    let stillRunning = false;
    // The scoped attempt's context: it says whether the runner cut this attempt's lock wait short.
    let context: Attempt | undefined;
    if (first !== undefined && attempt === 1) {
      failed = true;
      error = first.error;
    } else if (direct) {
      // No scope and nothing that can abort: just the op.
      try {
        const context = new Attempt(attempt, neverAborted, o.readOnly, name, startedAt, Infinity, clock);
        const live = attemptUnit(unit);
        try {
          value = await (live === undefined ? op(context) : runInUnit(live, op, context));
        } finally {
          if (live !== undefined) live.ended = true;
        }
      } catch (thrown) {
        failed = true;
        error = thrown;
      }
    } else {
      const timeoutAt = o.attemptTimeoutMs === undefined ? Infinity : startedAt + o.attemptTimeoutMs;
      const limitAt = Math.min(timeoutAt, deadlineAt);
      const guard = guarded
        ? guardFor(o, name, attempt, startedAt, timeoutAt, deadlineAt, previousError)
        : undefined;
      const scoped = new Attempt(attempt, guard ?? neverAborted, o.readOnly, name, startedAt, limitAt, clock);
      context = scoped;
      const live = attemptUnit(unit);
      try {
        value = await (live === undefined
          ? runAttempt(op, o, scoped, guard, deadlineAt)
          : runInUnit(live, runAttempt, op, o, scoped, guard, deadlineAt));
      } catch (thrown) {
        failed = true;
        // runAttempt's wrappers are never proxies, and instanceof on a proxy runs its getPrototypeOf trap,
        // which may throw (a revoked proxy): that would skip the permit's release below, for good.
        if (types.isProxy(thrown)) error = thrown;
        else if (thrown instanceof RollbackFailure) {
          error = thrown.error;
          rollbackError = thrown.rollbackError;
          rollbackFailed = true;
        } else if (thrown instanceof StillRunning) {
          error = thrown.error;
          stillRunning = true;
        } else error = thrown;
      }
      if (live !== undefined) live.ended = true;
    }

    if (!failed) {
      // The scope has committed: the permit goes back only now, so the limit counts whole transactions.
      permit?.release('success');
      if (announced) publishAttemptEnd(operationId, name, attempt, clock, startedAt, true, undefined);
      // Reading the clock costs 50-110 ns on some hosts: only when someone will see the elapsed time.
      if (o.logger !== undefined || o.onSuccess !== undefined || channels.operation.hasSubscribers) {
        reportSuccess({ options: o, name, operationId }, attempt, clock.now() - callStartedAt);
      }
      return value;
    }

    let judged: ReturnType<typeof judgeFailure> | undefined;
    try {
      judged = judgeFailure(error, o, name, rollbackFailed);
    } finally {
      // Rolled back (runAttempt awaited the scope): the permit goes back before any sleep.
      permit?.release(contentionOutcome(judged?.classification?.kind, context));
    }
    const { classification } = judged;
    let { reason, thrown, retryable } = judged;
    lostToOthers = classification?.kind === 'serialization' || classification?.kind === 'deadlock';
    // E13: a timed-out attempt that may still be running is never overlapped by another, unless the work
    // is harmless twice (readOnly, idempotent).
    if (stillRunning && reason === undefined && !o.readOnly && !o.idempotent) {
      reason = 'ambiguous';
      retryable = false;
      thrown = new AttemptStillRunningError(name, o.cleanupTimeoutMs, { cause: error });
    }
    // Then attempts (E1), the deadline (E7) and last the budget (E11): a token is spent only on a retry
    // that will really happen.
    let delayMs = 0;
    // E16: past its retries, a call still rides out a server outage for outageMs from its start.
    const beyondCount = attempt > o.policy.maxRetries;
    const ridesOutage =
      beyondCount &&
      reason === undefined &&
      o.outageMs > 0 &&
      isOutage(classification) &&
      clock.now() - callStartedAt < o.outageMs;
    if (reason !== undefined) {
      // stop now
    } else if (beyondCount && !ridesOutage) reason = 'exhausted';
    else {
      delays ??= o.policy.delays(o.random);
      // Past the policy's delays: about maxDelayMs apart (equal jitter), so waiting for a server to come
      // back neither hammers it nor sleeps past its return.
      delayMs = delays.next().value ?? o.policy.maxDelayMs * (0.5 + o.random() / 2);
      if (clock.now() + delayMs >= deadlineAt) reason = 'deadline';
      else if (budget !== undefined && !tryRetry(budget, ridesOutage)) reason = 'budget';
    }
    if (channels.error.hasSubscribers) {
      const willRetry = reason === undefined;
      const message = { operationId, name, attempt, error, retryable: willRetry, classification };
      channels.error.publish(o.target === undefined ? message : { ...message, target: o.target });
    }
    if (announced) publishAttemptEnd(operationId, name, attempt, clock, startedAt, false, error);
    const reporter: Reporter = { options: o, name, operationId };

    if (reason === undefined) {
      reportRetry(reporter, attempt, error, delayMs, classification);
      previousError = error;
      try {
        await sleep(clock, delayMs, signal);
        continue;
      } catch (abortReason) {
        reason = 'aborted';
        thrown = abortReason;
      }
    }
    // E8: an abort rejects even with raises: false; the caller asked to stop, not for a fallback value.
    const usedDefault = !o.raises && reason !== 'aborted';
    const elapsedMs = clock.now() - callStartedAt;
    reportGiveUp(reporter, {
      attempt,
      error,
      thrown,
      reason,
      retryable,
      classification,
      rollbackFailed,
      rollbackError,
      usedDefault,
      elapsedMs,
    });
    if (usedDefault) return o.default;
    throw thrown;
  }
}

/** Ends a call whose wait for admission was aborted (E8) or outlasted the deadline (E7). */
function giveUpWaiting(
  o: ResolvedExecuteOptions,
  reporter: Reporter,
  attempts: number,
  waitError: unknown,
  previousError: unknown,
  callStartedAt: number,
): unknown {
  const aborted = o.signal?.aborted === true;
  const thrown = aborted
    ? o.signal!.reason
    : waitError instanceof AdmissionTimeoutError
      ? new DeadlineExceededError(
          reporter.name,
          o.deadlineMs!,
          previousError === undefined ? {} : { cause: previousError },
        )
      : waitError;
  const reason = aborted ? 'aborted' : 'deadline';
  const usedDefault = !o.raises && !aborted;
  reportGiveUp(reporter, {
    attempt: attempts,
    error: previousError ?? thrown,
    thrown,
    reason,
    retryable: false,
    classification: undefined,
    rollbackFailed: false,
    rollbackError: undefined,
    usedDefault,
    elapsedMs: o.clock.now() - callStartedAt,
  });
  if (usedDefault) return o.default;
  throw thrown;
}

// Failures of a server that is away for a moment and comes back: nothing ran, so nothing can be doubled.
const outageKinds: ReadonlySet<string> = new Set([
  'connect-failed',
  'server-starting',
  'server-shutdown',
  'connection-lost',
]);

function isOutage(classification: Classification | undefined): boolean {
  return (
    classification?.retryable === true && !classification.ambiguous && outageKinds.has(classification.kind)
  );
}

/** True when no retry could follow this attempt (the policy's count, or the owner's allowance, is spent). */
function isLastTry(
  o: ResolvedExecuteOptions,
  budget: RetryBudget | CallAllowance | undefined,
  attempt: number,
): boolean {
  if (attempt > o.policy.maxRetries) return true;
  return budget instanceof CallAllowance && !budget.mayRetry();
}

/** A retry past the policy's count, riding out an outage, is not the owner's to count (E14), only the budget's. */
function tryRetry(budget: RetryBudget | CallAllowance, outage: boolean): boolean {
  return budget instanceof CallAllowance ? budget.tryRetry(outage) : budget.tryRetry();
}

/** The limit of one attempt: whichever comes first of its own timeout (E6) and the call's deadline (E7). */
function guardFor(
  o: ResolvedExecuteOptions,
  name: string,
  attempt: number,
  startedAt: number,
  timeoutAt: number,
  deadlineAt: number,
  previousError: unknown,
): AttemptGuard {
  const limitError = (): Error =>
    deadlineAt <= timeoutAt
      ? new DeadlineExceededError(
          name,
          o.deadlineMs!,
          previousError === undefined ? {} : { cause: previousError },
        )
      : new AttemptTimeoutError(name, attempt, o.attemptTimeoutMs!);
  return new AttemptGuard(o.clock, Math.min(timeoutAt, deadlineAt) - startedAt, limitError, o.signal);
}

function publishAttemptEnd(
  operationId: number,
  name: string,
  attempt: number,
  clock: Clock,
  startedAt: number,
  ok: boolean,
  error: unknown,
): void {
  const elapsedMs = clock.now() - startedAt;
  channels.attempt.publish({
    phase: 'end',
    operationId,
    name,
    attempt,
    ok,
    elapsedMs,
    ...(ok ? {} : { error }),
  });
}
