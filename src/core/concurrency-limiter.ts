import { type Channel, channel } from 'node:diagnostics_channel';
import { onAbort } from './abort-listener.js';
import type { ErrorKind } from './classification.js';
import { type Clock, systemClock } from './clock.js';
import { channelNames } from './diagnostics.js';
import { DbopError } from './errors.js';
import { currentUnit, runInUnit, type UnitContext } from './unit-context.js';
import { expectOptionsObject, invalid, orDefault, rejectUnknownKeys } from './validate.js';

/** Options of {@link ConcurrencyLimiter}; all optional. */
export interface ConcurrencyLimiterOptions {
  /** Never admit more than this many units at once. Default 10 (createDatabase: the pool's `max`). */
  readonly maxLimit?: number;
  /** The limit never shrinks below this. Default 1. */
  readonly minLimit?: number;
  /** The limit to start from. Default `maxLimit`. */
  readonly initialLimit?: number;
  /**
   * The deepest cut on contention (at most once per admission window): the limit is multiplied by a factor
   * between this and 1, the lower the more of the recent attempt time contention wasted, and drops by at
   * least one. Default 0.5 (TCP's halving).
   */
  readonly decreaseFactor?: number;
  /**
   * Share of recent attempts that may fail on contention before the limit shrinks. Default: one over the
   * current limit. At limit L with a share f of attempts failing, about L x (1 - f) units do useful work at
   * once; below L - 1, one fewer unit would do as much with no waste, so the limit shrinks when f passes
   * 1 / L: two units that collide on a third of their attempts still get more done than one, ten that lose a
   * fifth do not. Whatever this says, the limit also shrinks when contention wastes most of the recent
   * attempt time (a deadlock that held its units for Postgres's 1 s deadlock_timeout). A number fixes the
   * share instead, and a contention error past it cuts at once, not on trial; 0 cuts on every contention
   * error. (A lock wait dbop cut short, 'waited', still only leads to a cut on trial.)
   */
  readonly tolerance?: number;
  /**
   * Clean commits per admitted unit, at a saturated limit, before the limit probes one higher. Default 8:
   * at limit L the next probe comes after 8 x L commits, doubled after every probe that failed. A probe also
   * waits 20 times as long as the dearest attempt whose contention cut the limit (since the last recovery
   * that held) ran, at most 30 s: after a Postgres deadlock that held its units for the 1 s
   * deadlock_timeout, 20 s. Probing a level that is too high then costs a few percent of the time at most,
   * however dear a collision is on this database.
   */
  readonly probeAfter?: number;
  /**
   * Contention is a property of the current workload, and workloads change: after this long without a cut
   * (and no sooner than a probe may come, see `probeAfter`), the limit doubles (up to `maxLimit`) at the next
   * admission. A doubling that held for a further quiet period doubles again and forgets the waits that
   * failed probes built up; one cut within that period doubles the quiet period needed next (up to 64
   * times). Default 2000 ms.
   */
  readonly recoverAfterMs?: number;
  /** Shown on the diagnostics channel. Default 'limiter'. */
  readonly name?: string;
  /** E12: inject to make the queue's timeouts deterministic. */
  readonly clock?: Clock;
}

/**
 * How an admitted unit ended; only 'contention' and 'waited' may shrink the limit, only 'success' may grow
 * it. 'waited': a lock wait that dbop itself cut short (see {@link ConcurrencyLimiter.lockWaitMs}) ran out.
 * A short wait is meant to run out, in a deadlock or behind a long lock holder: it counts as a failed
 * attempt, but not as time wasted, so it can only lead to a cut on trial (one that must keep the commit
 * rate): callers queueing for one hot row must not cut the limit every other unit on the database runs under.
 */
export type AdmissionOutcome = 'success' | 'contention' | 'waited' | 'other';

/** One admission; give it back exactly once with {@link Permit.release}. Releasing again does nothing. */
export interface Permit {
  release(outcome: AdmissionOutcome): void;
}

/** What {@link ConcurrencyLimiter.stats} reports. Frozen. */
export interface LimiterStats {
  readonly limit: number;
  readonly inFlight: number;
  readonly queued: number;
  /** Times the limit shrank on contention, and grew after clean commits. */
  readonly decreases: number;
  readonly increases: number;
}

/** On 'dbop:limiter': the limiter's state after each change of limit, admission, release or queue. */
export interface LimiterMessage extends LimiterStats {
  readonly name: string;
  readonly event: 'admit' | 'queue' | 'release' | 'decrease' | 'increase' | 'leave';
}

/** Error kinds that mean "too many of us at once": they shrink the limit. */
export const contentionKinds: ReadonlySet<ErrorKind> = new Set<ErrorKind>([
  'serialization',
  'deadlock',
  'lock-timeout',
]);

// The attempts whose lock wait the runner cut short on the limiter's advice (see AdmissionOutcome 'waited').
const shortLockWaits = new WeakSet<object>();

/** Marks an attempt (its AttemptContext) as waiting for locks for less than its configured lock timeout. */
export function markShortLockWait(attempt: object): void {
  shortLockWaits.add(attempt);
}

/** How an attempt that failed with an error of `kind` gives its permit back. */
export function contentionOutcome(
  kind: ErrorKind | undefined,
  attempt: object | undefined,
): AdmissionOutcome {
  if (kind === undefined || !contentionKinds.has(kind)) return 'other';
  return kind === 'lock-timeout' && attempt !== undefined && shortLockWaits.has(attempt)
    ? 'waited'
    : 'contention';
}

/** Thrown by {@link ConcurrencyLimiter.acquire} when the wait for admission outlasted its `timeoutMs`. */
export class AdmissionTimeoutError extends DbopError {
  constructor(timeoutMs: number) {
    super('DBOP_ADMISSION_TIMEOUT', `No admission by the concurrency limiter within ${timeoutMs} ms`);
  }
}

// A raise is judged after at least this many commits (and 4 per unit of the new limit) ...
const trialCommits = 32;
// ... and this long, ms: a shorter window says more about the machine's hiccups than about the limit.
const trialMs = 200;
/**
 * How much more a raised limit must commit per second than the level it left, to stay (a lower limit after
 * a soft cut must commit at least as much as the level it left).
 */
export const trialGain = 0.05;
// Busy time after which a level's rate is known however few units it committed, ms.
const slowLevelMs = 1000;
// A cut on trial is judged after this many times the commits and busy time a raise needs.
const cutTrialScale = 4;
// A soft cut that went back holds off the next for 200 ms x 2^k, k growing to this with each one.
const maxSoftCutBackoff = 6;
// Share of recent attempt time that, wasted on contention, cuts the limit whatever the share of failures.
const wastedTimeCut = 0.8;
// Weight of the newest attempt in the moving averages of attempt time.
const smoothing = 0.1;
// A probe waits this many times the duration of the attempt whose contention last cut the limit.
const probeCostRatio = 20;
// ... but never longer than this: a lock timeout that waited 10 s says little about the next probe.
const maxProbeWaitMs = 30_000;
// The quiet period before a recovery doubles at most this many times after recoveries that failed.
const maxRecoverBackoff = 6;
/** The shortest lock wait {@link ConcurrencyLimiter.lockWaitMs} suggests, ms. */
export const minLockWaitMs = 20;
// The longest: past this a deadlock detector would usually have answered anyway.
const maxLockWaitMs = 20 * 2 ** 6;
/** How long after the last contention {@link ConcurrencyLimiter.lockWaitMs} still suggests a wait, ms. */
export const lockWaitMemoryMs = 10_000;
const limiterChannel: Channel = channel(channelNames.limiter);

interface Waiter {
  readonly resolve: (permit: Permit) => void;
  readonly reject: (reason: unknown) => void;
  cancel: (() => void) | undefined;
  // Waits to run alone (see acquireAlone); cleared when it has waited long enough for that.
  alone: boolean;
}

const known: ReadonlySet<string> = new Set([
  'maxLimit',
  'minLimit',
  'initialLimit',
  'decreaseFactor',
  'tolerance',
  'probeAfter',
  'recoverAfterMs',
  'name',
  'clock',
]);

/**
 * An adaptive bound on how many transactions run at once against one database (AIMD, as TCP's congestion
 * window). A contention error (serialization, deadlock, lock timeout) that leaves most of the recent attempt
 * time wasted cuts the limit at once, by a factor between `decreaseFactor` and 1 that follows the share of
 * time wasted (as DCTCP scales its cut by the share of marked packets); one that only takes the share of
 * failed attempts past the tolerance (1/limit) cuts on trial (at once when the limit holds nobody back). Clean commits at a full limit raise it by one
 * after `probeAfter` x limit of them, and a quiet period doubles it. Every move up, and every cut on trial,
 * is judged by the commit rate it brings (busy time only): a raise that does not commit 5% more, or a cut
 * that commits less, goes back, and the next of its kind waits longer. {@link lockWaitMs} suggests how long
 * a transaction should wait for a row lock while contention lasts; {@link acquireAlone} admits a unit with
 * nobody beside it.
 * Units beyond the limit wait in a FIFO queue that honours an AbortSignal and a timeout.
 * @example
 * const limiter = new ConcurrencyLimiter({ maxLimit: 10 });
 * const runner = new DbOpRunner({ limiter });
 */
export class ConcurrencyLimiter {
  readonly #max: number;
  readonly #min: number;
  readonly #factor: number;
  // Undefined: one over the current limit (see ConcurrencyLimiterOptions.tolerance).
  readonly #tolerance: number | undefined;
  readonly #probeAfter: number;
  readonly #name: string;
  readonly #clock: Clock;
  #limit: number;
  #inFlight = 0;
  // A unit runs alone (acquireAlone): nobody is admitted beside it.
  #alone = false;
  // A lone waiter gave up waiting for the units in flight (one of them runs long), and the limiter has not
  // been empty since: the next lone waiter would only wait for the same unit, holding everyone behind it.
  #outlasted = false;
  readonly #queue: Waiter[] = [];
  // The store of a context that holds a permit of this limiter only (never changed, so made once).
  readonly #selfOnly: readonly ConcurrencyLimiter[] = Object.freeze([this]);
  #head = 0;
  // Bumped on every decrease: contention seen by units admitted before it was already answered.
  #epoch = 0;
  #clean = 0;
  // When the limit last moved down, or was last doubled after a quiet period.
  #lastCutAt: number;
  readonly #recoverAfterMs: number;
  // Doublings of the wait before the next probe; grows when a probe meets contention.
  #probeBackoff = 0;
  #probing = false;
  // How long the attempt whose contention last cut the limit had run: what a failed probe costs here.
  #cutCostMs = 0;
  // Doublings of the quiet period before a recovery; grows when a recovery is cut within its period.
  #recoverBackoff = 0;
  // When the limit last doubled after a quiet period, if no cut came since.
  #recoveredAt: number | undefined;
  #decreases = 0;
  #increases = 0;
  // Moving averages of attempt time, all of it and the part contention threw away (DCTCP's alpha, by time).
  #wastedMs = 0;
  #waitedMs = 0;
  #spentMs = 0;
  // Moving average of the share of attempts that failed on contention.
  #failedShare = 0;
  // Time with at least one unit in flight, ms: its total up to the last moment the limiter went idle, and
  // when the current busy spell began. A level's rate is measured over this time only: an idle pause (the
  // callers had nothing to do) says nothing about what the limit is worth.
  #busyMs = 0;
  #busySince = 0;
  // Commits since the limit last moved, how many of them were admitted at a full limit, and since when
  // (busy time, see #busyAt).
  #levelSince = 0;
  #levelCommits = 0;
  #levelSaturated = 0;
  // A raise on trial: the limit before it, and the commit rate measured there (see #judgeTrial).
  #trial:
    | { readonly from: number; readonly rate: number; readonly kind: 'probe' | 'recovery' | 'cut' }
    | undefined;
  // A cut on trial that went back: the next soft cut waits until then (see #judgeTrial), longer each time.
  #softCutsFrom = Number.NEGATIVE_INFINITY;
  #softCutBackoff = 0;
  // Moving average of how long a unit that committed ran, and when contention was last seen.
  #committedMs = 0;
  #contentionAt = Number.NEGATIVE_INFINITY;

  constructor(options: ConcurrencyLimiterOptions = {}) {
    expectOptionsObject(options, 'ConcurrencyLimiter');
    rejectUnknownKeys(options, known, 'ConcurrencyLimiter');
    this.#max = positiveInteger('maxLimit', orDefault(options.maxLimit, 10));
    this.#min = positiveInteger('minLimit', orDefault(options.minLimit, 1));
    if (this.#min > this.#max) invalid('minLimit', `at most maxLimit (${this.#max})`, this.#min);
    const initial = positiveInteger('initialLimit', orDefault(options.initialLimit, this.#max));
    if (initial < this.#min || initial > this.#max) {
      invalid('initialLimit', `between minLimit and maxLimit (${this.#min}-${this.#max})`, initial);
    }
    this.#limit = initial;
    const factor = orDefault(options.decreaseFactor, 0.5);
    if (typeof factor !== 'number' || !(factor > 0 && factor < 1)) {
      invalid('decreaseFactor', 'a number between 0 and 1 (exclusive)', factor);
    }
    this.#factor = factor;
    const tolerance = options.tolerance;
    if (tolerance !== undefined && (typeof tolerance !== 'number' || !(tolerance >= 0 && tolerance < 1))) {
      invalid('tolerance', 'a number from 0 to 1 (exclusive)', tolerance);
    }
    this.#tolerance = tolerance;
    this.#probeAfter = positiveInteger('probeAfter', orDefault(options.probeAfter, 8));
    const recover = orDefault(options.recoverAfterMs, 2000);
    if (typeof recover !== 'number' || !(recover > 0 && recover <= 2 ** 31 - 1)) {
      invalid('recoverAfterMs', 'a positive number of milliseconds', recover);
    }
    this.#recoverAfterMs = recover;
    const name = orDefault(options.name, 'limiter');
    if (typeof name !== 'string') invalid('name', 'a string', name);
    this.#name = name;
    const clock = orDefault(options.clock, systemClock);
    if (typeof clock?.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function') {
      invalid('clock', 'an object with now(), setTimeout() and clearTimeout()', clock);
    }
    this.#clock = clock;
    this.#lastCutAt = clock.now();
  }

  /** The current limit, units running, units waiting and how often the limit moved. */
  stats(): LimiterStats {
    return Object.freeze({
      limit: this.#limit,
      inFlight: this.#inFlight,
      queued: this.#queue.length - this.#head,
      decreases: this.#decreases,
      increases: this.#increases,
    });
  }

  /**
   * How long a unit's first attempt should wait for a row lock while this limiter sees contention, ms; undefined
   * when it saw none in the last {@link lockWaitMemoryMs} (then the configured lock timeout applies). Twice
   * what the admitted units could hold the lock for in turn (the limit times the average committed unit's
   * duration), at least {@link minLockWaitMs}, rounded up to that floor times a power of two so a handful of
   * distinct values reach the server. Where a deadlock is only detected after a wait (Postgres's
   * deadlock_timeout, 1 s by default), a wait this short ends it sooner than the server would.
   */
  lockWaitMs(): number | undefined {
    if (this.#clock.now() - this.#contentionAt > lockWaitMemoryMs) return undefined;
    const wanted = 2 * this.#limit * this.#committedMs;
    let wait = minLockWaitMs;
    while (wait < wanted && wait < maxLockWaitMs) wait *= 2;
    return wait;
  }

  /** True when the current async context already holds a permit of this limiter (a nested unit). */
  held(): boolean {
    return currentUnit()?.limiters.includes(this) === true;
  }

  /** Runs fn in a context that holds a permit of this limiter, so units nested in it are not admitted again. */
  async runHolding<T>(fn: () => Promise<T>): Promise<T> {
    const outer = currentUnit();
    const unit: UnitContext = {
      limiters: this.heldWith(outer?.limiters),
      allowance: outer?.allowance,
      parent: outer,
    };
    try {
      return await runInUnit(unit, fn);
    } finally {
      unit.ended = true;
    }
  }

  /** The limiters a context holds once admitted by this one too, besides those it held (none reused). */
  heldWith(limiters: readonly ConcurrencyLimiter[] | undefined): readonly ConcurrencyLimiter[] {
    return limiters === undefined || limiters.length === 0 ? this.#selfOnly : [...limiters, this];
  }

  /** A permit now if one is free and nobody is queued ahead, else undefined. */
  tryAcquire(): Permit | undefined {
    if (this.#recover()) this.#drain();
    if (this.#alone || this.#inFlight >= this.#limit || this.#queue.length > this.#head) return undefined;
    return this.#admit('admit', false);
  }

  /**
   * Waits for a permit to run alone: ahead of every other waiter, once no unit is in flight, and with none
   * admitted beside it until it is released. For the last try of a unit that lost to contention on every
   * try before: it cannot lose to this limiter's own units again. If the units in flight have not all
   * finished after a while (ten times an average commit, from 100 ms to 1 s), it is admitted as any other,
   * so that one long transaction does not stall the rest; until the limiter has been empty again, the
   * next lone waiter is then admitted as any other at once. Same signal and timeout as {@link acquire}.
   */
  acquireAlone(signal?: AbortSignal, timeoutMs?: number): Promise<Permit> {
    if (this.#outlasted) return this.acquire(signal, timeoutMs);
    if (this.#recover()) this.#drain();
    if (!this.#alone && this.#inFlight === 0 && this.#queue.length === this.#head) {
      return Promise.resolve(this.#admit('admit', true));
    }
    const fallbackMs = Math.min(1000, Math.max(100, 10 * this.#committedMs));
    return this.#wait(signal, timeoutMs, fallbackMs);
  }

  /**
   * Waits in FIFO order for a permit. Rejects with `signal.reason` when the signal aborts, or with an
   * {@link AdmissionTimeoutError} after `timeoutMs`; a waiter that left holds nothing and leaves no timer.
   */
  acquire(signal?: AbortSignal, timeoutMs?: number): Promise<Permit> {
    const now = this.tryAcquire();
    if (now !== undefined) return Promise.resolve(now);
    return this.#wait(signal, timeoutMs, undefined);
  }

  /** Queues a waiter; `aloneMs`: one that waits to run alone, for at most that long (then as any other). */
  #wait(
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    aloneMs: number | undefined,
  ): Promise<Permit> {
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    if (timeoutMs !== undefined && timeoutMs <= 0) return Promise.reject(new AdmissionTimeoutError(0));
    if (signal === undefined && timeoutMs === undefined && aloneMs === undefined) {
      // Nothing can make it leave: no timer, no listener, nothing to cancel.
      return new Promise<Permit>((resolve, reject) => {
        this.#queue.push({ resolve, reject, cancel: undefined, alone: false });
        this.#publish('queue');
      });
    }
    return new Promise<Permit>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, cancel: undefined, alone: aloneMs !== undefined };
      let handle: unknown;
      let aloneHandle: unknown;
      const leave = (reason: unknown): void => {
        if (!this.#remove(waiter)) return;
        waiter.cancel?.();
        reject(reason);
        this.#publish('leave');
        // The head may have been the one blocking others only by position.
        this.#drain();
      };
      if (timeoutMs !== undefined) {
        handle = this.#clock.setTimeout(() => leave(new AdmissionTimeoutError(timeoutMs)), timeoutMs);
      }
      if (aloneMs !== undefined) {
        aloneHandle = this.#clock.setTimeout(() => {
          aloneHandle = undefined;
          waiter.alone = false;
          this.#outlasted = true;
          this.#drain();
        }, aloneMs);
      }
      // One abort listener per signal, however many waiters gave it: on abort each leaves in the order it came.
      const stopWatching = signal === undefined ? undefined : onAbort(signal, leave);
      waiter.cancel = () => {
        if (handle !== undefined) this.#clock.clearTimeout(handle);
        if (aloneHandle !== undefined) this.#clock.clearTimeout(aloneHandle);
        stopWatching?.();
      };
      if (aloneMs === undefined) this.#queue.push(waiter);
      else {
        // Ahead of every waiter but those already waiting to run alone.
        let at = this.#head;
        while (at < this.#queue.length && this.#queue[at]!.alone) at += 1;
        this.#queue.splice(at, 0, waiter);
      }
      this.#publish('queue');
    });
  }

  #remove(waiter: Waiter): boolean {
    const index = this.#queue.indexOf(waiter, this.#head);
    if (index < 0) return false;
    this.#queue.splice(index, 1);
    return true;
  }

  #admit(event: 'admit', alone: boolean): Permit {
    const admittedAt = this.#clock.now();
    if (this.#inFlight === 0) this.#busySince = admittedAt;
    this.#inFlight += 1;
    if (alone) this.#alone = true;
    const epoch = this.#epoch;
    // Only a unit admitted at a full limit says anything about whether a higher limit would help.
    const saturated = !alone && this.#inFlight >= this.#limit;
    let released = false;
    const permit: Permit = {
      release: (outcome) => {
        if (released) return;
        released = true;
        if (alone) this.#alone = false;
        this.#release(outcome, epoch, saturated, this.#clock.now() - admittedAt);
      },
    };
    this.#publish(event);
    return permit;
  }

  #release(outcome: AdmissionOutcome, epoch: number, saturated: boolean, heldMs: number): void {
    this.#inFlight -= 1;
    if (this.#inFlight === 0) {
      this.#busyMs += this.#clock.now() - this.#busySince;
      this.#outlasted = false;
    }
    if (outcome !== 'other') {
      this.#failedShare += smoothing * ((outcome === 'success' ? 0 : 1) - this.#failedShare);
    }
    if (outcome !== 'other') {
      this.#spentMs += smoothing * (heldMs - this.#spentMs);
      this.#wastedMs += smoothing * ((outcome === 'contention' ? heldMs : 0) - this.#wastedMs);
      // A short wait that ran out was meant to: it counts in how deep a cut goes, never in whether one
      // must come whatever the commit rate says.
      this.#waitedMs += smoothing * ((outcome === 'waited' ? heldMs : 0) - this.#waitedMs);
    }
    if (outcome === 'success') {
      this.#committedMs =
        this.#committedMs === 0 ? heldMs : this.#committedMs + smoothing * (heldMs - this.#committedMs);
      this.#levelCommits += 1;
      if (saturated) this.#levelSaturated += 1;
    }
    // Judged at any release: a level that commits nothing must end its trial too.
    if (outcome !== 'other' && this.#trial !== undefined) this.#judgeTrial();
    if (outcome === 'contention' || outcome === 'waited') {
      this.#contentionAt = this.#clock.now();
      // Some contention is the price of running side by side: only a cost above the tolerance cuts.
      if (epoch === this.#epoch) {
        const now = this.#clock.now();
        if (outcome === 'contention' && this.#wasteShare() >= wastedTimeCut) this.#decrease(heldMs, false);
        // A tolerance the caller fixed is a rule, not a guess to put on trial.
        else if (outcome === 'contention' && this.#tolerance !== undefined) {
          if (this.#failedShare > this.#tolerance) this.#decrease(heldMs, false);
        } else if (this.#failedShare > (this.#tolerance ?? 1 / this.#limit) && now >= this.#softCutsFrom) {
          // A raise on trial that meets contention goes back at once; otherwise the level must be known
          // first, so that the cut can be judged against it.
          if (this.#trial !== undefined && this.#trial.kind !== 'cut') this.#decrease(heldMs, false);
          // A limit above what runs holds nobody back: no rate to protect, the cut comes at once (fewer units
          // beside each other on a server where they conflict, as Galera nodes certifying the same rows).
          else if (
            outcome === 'contention' &&
            this.#inFlight + 1 < this.#limit &&
            this.#queue.length === this.#head
          )
            this.#decrease(heldMs, false);
          else if (this.#trial === undefined && this.#levelMeasured(now)) this.#decrease(heldMs, true);
        }
      }
    } else if (outcome === 'success' && saturated) {
      this.#clean += 1;
      const now = this.#clock.now();
      if (
        this.#clean >= this.#probeAfter * this.#limit * 2 ** this.#probeBackoff &&
        this.#probeCostPaid(now) &&
        this.#levelMeasured(now) &&
        this.#trial?.kind !== 'cut'
      )
        this.#increase();
    }
    this.#publish('release');
    this.#recover();
    this.#drain();
  }

  /**
   * Cuts the limit. A soft cut (failures past the tolerance, but little time wasted) is on trial when the
   * level it leaves was measured: a lower limit must commit nearly as much (see #judgeTrial), or it goes
   * back. Failures among a few units that fight over one row say little about the rest of the workload.
   */
  #decrease(heldMs: number, soft: boolean): void {
    const probeFailed = this.#trial !== undefined && this.#trial.kind !== 'cut';
    this.#epoch += 1;
    this.#clean = 0;
    const now = this.#clock.now();
    // Contention soon after a raise: that level was too high, so wait longer before trying it again.
    if (this.#probing) this.#probeBackoff = Math.min(this.#probeBackoff + 1, 10);
    this.#probing = false;
    // Contention within a quiet period of a recovery: the workload had not changed; wait longer next time.
    if (this.#recoveredAt !== undefined && now - this.#recoveredAt < this.#quietMs()) {
      this.#recoverBackoff = Math.min(this.#recoverBackoff + 1, maxRecoverBackoff);
    }
    this.#recoveredAt = undefined;
    // The dearest collision since the last recovery that held sets the wait: a cheap serialization failure
    // at the probed level does not make the next probe into a deadlock any cheaper.
    this.#cutCostMs = Math.max(this.#cutCostMs, heldMs);
    // A deadlock that cost Postgres's 1 s deadlock_timeout cuts deep; a cheap conflict barely.
    const lost = this.#spentMs > 0 ? Math.min(1, (this.#wastedMs + this.#waitedMs) / this.#spentMs) : 1;
    const factor = 1 - lost * (1 - this.#factor);
    const next = Math.max(this.#min, Math.min(this.#limit - 1, Math.floor(this.#limit * factor)));
    const measured = soft && !probeFailed && this.#levelMeasured(now);
    const rate = measured ? this.#levelRate(now) : 0;
    this.#trial = undefined;
    const from = this.#limit;
    if (next === from) return;
    this.#setLimit(next, now);
    if (measured) this.#trial = { from, rate, kind: 'cut' };
    this.#lastCutAt = now;
    this.#decreases += 1;
    this.#publish('decrease');
  }

  /** Busy time (at least one unit in flight) up to `now`, ms. */
  #busyAt(now: number): number {
    return this.#inFlight > 0 ? this.#busyMs + (now - this.#busySince) : this.#busyMs;
  }

  #setLimit(limit: number, now: number): void {
    this.#limit = limit;
    this.#levelSince = this.#busyAt(now);
    this.#levelCommits = 0;
    this.#levelSaturated = 0;
  }

  /**
   * Starts a raise on trial when the level it leaves was measured: enough commits, most of them admitted at
   * a full limit (a limiter that was not full says nothing about what a higher limit is worth).
   */
  #raise(limit: number, now: number, recovery: boolean): void {
    this.#trial =
      this.#levelMeasured(now) && this.#levelFull()
        ? { from: this.#limit, rate: this.#levelRate(now), kind: recovery ? 'recovery' : 'probe' }
        : undefined;
    this.#setLimit(limit, now);
  }

  /** Commits per busy millisecond since the limit last moved. */
  #levelRate(now: number): number {
    return this.#levelCommits / (this.#busyAt(now) - this.#levelSince);
  }

  /** True when most of the current level's commits were admitted at a full limit. */
  #levelFull(): boolean {
    return this.#levelSaturated * 2 >= this.#levelCommits;
  }

  /** True once the current level committed enough, busy long enough, for its rate to mean something. */
  #levelMeasured(now: number): boolean {
    const busy = this.#busyAt(now) - this.#levelSince;
    // A level that commits next to nothing for a long while is measured too: that is its rate.
    return (
      (this.#levelCommits >= Math.max(trialCommits, 4 * this.#limit) && busy >= trialMs) ||
      busy >= slowLevelMs
    );
  }

  /**
   * A raise must pay: once the new level committed enough, at a full limit, for long enough, its commit rate
   * is compared with the old level's; one that is not at least {@link trialGain} higher goes back, and the
   * next raise of its kind waits twice as long. More units than the rows they fight over allow only wait
   * for each other's locks (InnoDB reports no error for that, only slower commits), so the error count alone
   * would let the limit climb past the level that commits the most.
   */
  #judgeTrial(): void {
    const trial = this.#trial!;
    const now = this.#clock.now();
    if (!this.#levelMeasured(now)) return;
    const elapsed = this.#busyAt(now) - this.#levelSince;
    // A cut is judged over a longer window: the cuts come more often than raises, and a workload's own
    // rhythm (a lock holder that comes and goes) must not decide them. A lower level that commits next to
    // nothing is judged too, once busy that much longer: no trial may stay open for good.
    if (
      trial.kind === 'cut' &&
      (elapsed < cutTrialScale * trialMs || this.#levelCommits < cutTrialScale * trialCommits) &&
      elapsed < cutTrialScale * slowLevelMs
    )
      return;
    this.#trial = undefined;
    // Not full for most of the trial: the demand, not the limit, set the rate; the move stays.
    if (!this.#levelFull()) return;
    const rate = this.#levelRate(now);
    if (trial.kind === 'cut') {
      // A lower limit that commits as much is the better one: fewer units hold fewer locks.
      if (rate >= trial.rate) {
        this.#softCutBackoff = 0;
        return;
      }
      this.#softCutsFrom = now + trialMs * 2 ** this.#softCutBackoff;
      this.#softCutBackoff = Math.min(this.#softCutBackoff + 1, maxSoftCutBackoff);
      this.#setLimit(trial.from, now);
      this.#increases += 1;
      this.#publish('increase');
      return;
    }
    if (rate >= trial.rate * (1 + trialGain)) return;
    if (trial.kind === 'recovery') {
      this.#recoverBackoff = Math.min(this.#recoverBackoff + 1, maxRecoverBackoff);
      this.#recoveredAt = undefined;
    } else {
      this.#probeBackoff = Math.min(this.#probeBackoff + 1, 10);
      this.#probing = false;
    }
    this.#clean = 0;
    this.#lastCutAt = now;
    this.#setLimit(trial.from, now);
    this.#decreases += 1;
    this.#publish('decrease');
  }

  /** After a quiet period the limit doubles: the contention that cut it may be long gone. */
  #recover(): boolean {
    if (this.#limit >= this.#max) return false;
    const now = this.#clock.now();
    // The last doubling held for a whole quiet period (no cut since, its trial passed): the contention that
    // cut the limit is gone, and so is the wait it set for the next raise.
    const held = this.#recoveredAt !== undefined && this.#trial === undefined;
    if (now - this.#lastCutAt < this.#quietMs() || (!held && !this.#probeCostPaid(now))) return false;
    if (held) {
      this.#recoverBackoff = 0;
      this.#probeBackoff = 0;
      this.#cutCostMs = 0;
    }
    this.#recoveredAt = now;
    this.#lastCutAt = now;
    this.#probing = false;
    this.#clean = 0;
    this.#raise(Math.min(this.#max, this.#limit * 2), now, true);
    this.#increases += 1;
    this.#publish('increase');
    return true;
  }

  #quietMs(): number {
    return this.#recoverAfterMs * 2 ** this.#recoverBackoff;
  }

  /** True once the time since the last cut dwarfs what that cut's contention cost (see probeAfter). */
  #probeCostPaid(now: number): boolean {
    return now - this.#lastCutAt >= Math.min(probeCostRatio * this.#cutCostMs, maxProbeWaitMs);
  }

  #wasteShare(): number {
    return this.#spentMs > 0 ? Math.min(1, this.#wastedMs / this.#spentMs) : 1;
  }

  #increase(): void {
    this.#clean = 0;
    // A probe that lasted a whole wait without contention: that level holds, probe sooner next time.
    if (this.#probing) this.#probeBackoff = Math.max(this.#probeBackoff - 1, 0);
    if (this.#limit >= this.#max) {
      this.#probing = false;
      return;
    }
    this.#raise(this.#limit + 1, this.#clock.now(), false);
    this.#probing = true;
    this.#increases += 1;
    this.#publish('increase');
  }

  #drain(): void {
    while (!this.#alone && this.#queue.length > this.#head) {
      const waiter = this.#queue[this.#head]!;
      const alone = waiter.alone;
      if (alone ? this.#inFlight > 0 : this.#inFlight >= this.#limit) return;
      this.#queue[this.#head] = undefined as unknown as Waiter;
      this.#head += 1;
      if (this.#head > 64 && this.#head * 2 > this.#queue.length) {
        this.#queue.splice(0, this.#head);
        this.#head = 0;
      }
      waiter.cancel?.();
      waiter.resolve(this.#admit('admit', alone));
    }
  }

  #publish(event: LimiterMessage['event']): void {
    if (!limiterChannel.hasSubscribers) return;
    const message: LimiterMessage = { name: this.#name, event, ...this.stats() };
    limiterChannel.publish(message);
  }
}

function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    invalid(name, 'a positive integer', value);
  }
  return value;
}
