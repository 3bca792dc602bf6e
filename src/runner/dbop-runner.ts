import type { AttemptContext, ScopeFactory } from '../core/attempt.js';
import { type AttemptScopeOptions, attemptScope, resolveAttemptScopeOptions } from '../core/attempt-scope.js';
import type { CallAllowance } from '../core/call-allowance.js';
import type { Classifier } from '../core/classification.js';
import { systemClock } from '../core/clock.js';
import { type ConcurrencyLimiter, markShortLockWait } from '../core/concurrency-limiter.js';
import type { OperationTarget } from '../core/diagnostics.js';
import { DbopError } from '../core/errors.js';
import { execute } from '../core/execute.js';
import type { ExecuteOptions, GiveUpEvent, Logger } from '../core/execute-options.js';
import {
  callOptionsBase,
  type ResolvedExecuteOptions,
  resolveExecuteOptions,
  withCallParts,
} from '../core/resolve-execute-options.js';
import { type RetryPolicy, retryPolicy } from '../core/retry-policy.js';
import { type IsolationLevel, isSessionSource, type Session, type SessionSource } from '../core/session.js';
import { describeValue, isFixedOptions, isPlainOptions } from '../core/validate.js';
import { CallOwner, nestedDeadlineMs, ownerAllowance } from './call-owner.js';
import { fenceSession } from './fenced-session.js';
import { heldBody } from './held-body.js';
import { nestedPolicy } from './nested-policy.js';
import { markSpent, runnerClassification } from './runner-classifier.js';
import { withDialect } from './runner-logger.js';
import {
  checkRunOptions,
  type DbOpRunnerOptions,
  type RunOptions,
  resolveRunnerOptions,
  type TransactionOptions,
} from './runner-options.js';
import { type AttemptOptions, SourcedCall } from './sourced-call.js';

/** A step or transaction body: gets the session (and the attempt) and may return anything. */
export type StepFunction<T, Raw = unknown> = (
  session: Session<Raw>,
  attempt: AttemptContext,
) => T | PromiseLike<T>;

/**
 * Runs database steps with retries at the right scope (rules R1 to R3, S1 to S5): run() retries one step,
 * in a SAVEPOINT when the caller has a transaction open; transaction() owns a whole transaction and
 * retries all of it, also for transaction-scope errors escalated from nested run() steps.
 * @example
 * const runner = new DbOpRunner({ maxRetries: 3, logger: console });
 * await runner.transaction(pgPoolSource(pool), async (s) => {
 *   await runner.run(s, (t) => t.query('UPDATE account SET balance = balance - $1 WHERE id = $2', [10, 1]));
 *   await runner.run(s, (t) => t.query('UPDATE account SET balance = balance + $1 WHERE id = $2', [10, 2]));
 * });
 */
export class DbOpRunner {
  readonly #policy: RetryPolicy;
  readonly #nestedPolicy: RetryPolicy;
  readonly #lockTimeoutMs: number | undefined;
  readonly #statementTimeoutMs: number | undefined;
  readonly #raises: boolean;
  readonly #logger: Logger | undefined;
  readonly #budget: DbOpRunnerOptions['budget'];
  readonly #limiter: ConcurrencyLimiter | undefined;
  readonly #target: OperationTarget | undefined;
  readonly #outageMs: number;

  constructor(options?: DbOpRunnerOptions) {
    const resolved = resolveRunnerOptions(options, 'new DbOpRunner()');
    this.#policy = retryPolicy(resolved.policy);
    this.#nestedPolicy = nestedPolicy(this.#policy);
    this.#lockTimeoutMs = resolved.lockTimeoutMs;
    this.#statementTimeoutMs = resolved.statementTimeoutMs;
    this.#raises = resolved.raises;
    this.#logger = resolved.logger;
    this.#budget = resolved.budget;
    this.#limiter = resolved.limiter;
    this.#target = resolved.target;
    this.#outageMs = resolved.outageMs;
  }

  /** The limiter every unit of this runner is admitted by, if any. */
  get limiter(): ConcurrencyLimiter | undefined {
    return this.#limiter;
  }

  /**
   * Runs fn(session) in an attempt scope with retries (R1): a transaction it commits itself when none is
   * open, else a SAVEPOINT that never commits the caller's work. Inside the caller's transaction a step is
   * retried only for statement-scope errors, after ROLLBACK TO released what the step took, and with at
   * most 10 ms of backoff: a longer sleep would hold the caller's locks (never sleep
   * inside an open transaction); the lock wait itself (lockTimeoutMs) is where such a step waits.
   */
  run<T, Raw, D = undefined>(
    session: Session<Raw>,
    fn: StepFunction<T, Raw>,
    options: RunOptions<D> = {},
  ): Promise<T | D> {
    let scope: AttemptScopeOptions;
    let probed: boolean | Promise<boolean>;
    try {
      checkRunOptions(options, 'run', 'run()');
      scope = this.#scopeOptions(options, undefined);
      // Where the driver cannot tell, the session asks the server: a transaction the caller began with the
      // driver itself is theirs, never committed by dbop (R1).
      probed = session.probeTransaction?.() ?? session.inTransaction();
    } catch (error) {
      return Promise.reject(notASession(session, 'run()') ?? error);
    }
    if (typeof probed === 'boolean') return this.#runStep(session, fn, options, scope, probed);
    return probed.then((nested) => this.#runStep(session, fn, options, scope, nested));
  }

  #runStep<T, Raw, D>(
    session: Session<Raw>,
    fn: StepFunction<T, Raw>,
    options: RunOptions<D>,
    scope: AttemptScopeOptions,
    nested: boolean,
  ): Promise<T | D> {
    const idempotent = options.idempotent === true;
    const extra = {
      scope: () => attemptScope(session, scope),
      classifier: (error: unknown) =>
        runnerClassification(error, session.dialect, { nested, canReconnect: false, idempotent }),
    };
    if (nested) {
      // E14: inside a transaction dbop owns, the step's retries are the owner's, and so is its deadline.
      const owner = ownerAllowance(session);
      const step = execute(
        (context) => fn(this.#fenced(session, options, context), context),
        this.#executeOptions(options, session.dialect, 'run', this.#nestedPolicy, {
          ...extra,
          onGiveUp: giveUpNested,
          // A step inside the caller's transaction runs under that transaction's admission, if any.
          admitted: false,
          ...(owner === undefined
            ? {}
            : { budget: owner, deadlineMs: nestedDeadlineMs(options.deadlineMs, owner) }),
        }),
      ) as Promise<T | D>;
      return owner === undefined || !shortWaitCaps.has(owner) ? step : restoreFullWait(step, session, owner);
    }
    const owner = new CallOwner(this.#policy.maxRetries, options.deadlineMs, this.#budget);
    const perAttempt = this.#lockWait(options, owner);
    return settle(
      execute(
        (context) => {
          owner.hold(session);
          return heldBody(session, () => fn(this.#fenced(session, options, context), context));
        },
        this.#executeOptions(options, session.dialect, 'run', this.#policy, {
          ...extra,
          ...(perAttempt === undefined
            ? {}
            : { scope: (context) => attemptScope(session, perAttempt(scope, session, context)) }),
          budget: owner.allowance,
        }),
      ) as Promise<T | D>,
      owner,
    );
  }

  /**
   * Owns one transaction and retries the whole fn on transaction- and connection-scope errors (R2). Given a
   * SessionSource it takes a fresh session per attempt, so a lost connection is replaced and the work redone.
   */
  transaction<T, Raw, D = undefined>(
    target: Session<Raw> | SessionSource<Raw>,
    fn: StepFunction<T, Raw>,
    options: TransactionOptions<D> = {},
  ): Promise<T | D> {
    try {
      return this.#transaction(target, fn, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #transaction<T, Raw, D>(
    target: Session<Raw> | SessionSource<Raw>,
    fn: StepFunction<T, Raw>,
    options: TransactionOptions<D>,
  ): Promise<T | D> {
    checkRunOptions(options, 'transaction', 'transaction()');
    const source = isSessionSource(target) ? (target as SessionSource<Raw>) : undefined;
    const fixed = source === undefined ? (target as Session<Raw>) : undefined;
    const scopeOptions = this.#scopeOptions(options, options.isolationLevel);
    const idempotent = options.idempotent === true;
    if (fixed !== undefined) {
      // Also a transaction the caller began with the driver itself, where the session must ask the server.
      const probed = fixed.probeTransaction?.() ?? fixed.inTransaction();
      if (typeof probed === 'boolean') {
        if (probed) throw transactionOpen();
        return this.#fixedTransaction(fixed, fn, options, scopeOptions);
      }
      return probed.then((open) => {
        if (open) throw transactionOpen();
        return this.#fixedTransaction(fixed, fn, options, scopeOptions);
      });
    }
    const owner = new CallOwner(this.#policy.maxRetries, options.deadlineMs, this.#budget);
    const call = new SourcedCall(source!, scopeOptions, this.#lockWait(options, owner));
    return settle(
      execute(
        (context) => {
          const session = call.session();
          owner.hold(session);
          return heldBody(session, () => fn(this.#fenced(session, options, context), context));
        },
        this.#sourcedOptions(
          options,
          call,
          'transaction',
          () => call.scope(),
          sourcedClassifier(call, idempotent),
          owner.allowance,
        ),
      ) as Promise<T | D>,
      owner,
    );
  }

  /**
   * Runs fn as one autocommit statement per attempt, on a fresh session from source each time: no BEGIN
   * and no COMMIT, timeouts kept as the connection's own settings (so only for a source whose idle sessions
   * and their settings dbop owns, as createDatabase's pool). The statement is its own commit: a connection
   * lost while it ran leaves a write's outcome unknown (E9), ambiguous unless readOnly or idempotent.
   * `leaf` (internal, db.query's own statement): fn starts no unit of its own, see ExecuteOptions.leaf.
   */
  statement<T, Raw, D = undefined>(
    source: SessionSource<Raw>,
    fn: StepFunction<T, Raw>,
    options: RunOptions<D> = {},
    leaf = false,
  ): Promise<T | D> {
    try {
      checkRunOptions(options, 'run', 'statement()');
      const base = this.#scopeOptions(options, undefined);
      let scopeOptions = this.#autocommitCache.get(base);
      if (scopeOptions === undefined) {
        scopeOptions = resolveAttemptScopeOptions({ ...base, autocommit: true });
        this.#autocommitCache.set(base, scopeOptions);
      }
      const call = new SourcedCall(source, scopeOptions);
      const idempotent = options.idempotent === true;
      return execute(
        (context) => fn(this.#fenced(call.session(), options, context), context),
        this.#sourcedOptions(
          options,
          call,
          leaf ? 'leaf' : 'statement',
          () => call.scope(),
          sourcedClassifier(call, idempotent),
          undefined,
        ),
      ) as Promise<T | D>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  readonly #autocommitCache = new WeakMap<AttemptScopeOptions, AttemptScopeOptions>();

  #fixedTransaction<T, Raw, D>(
    fixed: Session<Raw>,
    fn: StepFunction<T, Raw>,
    options: TransactionOptions<D>,
    scopeOptions: AttemptScopeOptions,
  ): Promise<T | D> {
    const dialect = fixed.dialect;
    const idempotent = options.idempotent === true;
    const owner = new CallOwner(this.#policy.maxRetries, options.deadlineMs, this.#budget);
    const perAttempt = this.#lockWait(options, owner);
    return settle(
      execute(
        (context) => {
          owner.hold(fixed);
          return heldBody(fixed, () => fn(this.#fenced(fixed, options, context), context));
        },
        this.#executeOptions(options, dialect, 'transaction', this.#policy, {
          scope:
            perAttempt === undefined
              ? () => attemptScope(fixed, scopeOptions)
              : (context) => attemptScope(fixed, perAttempt(scopeOptions, fixed, context)),
          classifier: (error) =>
            runnerClassification(error, dialect, { nested: false, canReconnect: false, idempotent }),
          budget: owner.allowance,
        }),
      ) as Promise<T | D>,
      owner,
    );
  }

  /**
   * The lock wait of each attempt of a unit that owns its transaction, when the call left the lock timeout to
   * the runner and the runner's limiter sees contention on a server that finds deadlocks only after a wait
   * (Postgres): the limiter's short wait (ConcurrencyLimiter.lockWaitMs), doubled on each retry, and the
   * runner's full lock timeout on the last attempt the call can make: when its allowance (its nested steps'
   * retries count) or the shared retry budget has no retry left, or its deadline leaves no room for another
   * attempt after this one's short wait and the longest backoff. So a lock held for long is still waited
   * out before the call gives up. Undefined when the runner's own lock timeout applies to every attempt,
   * as in a call nested in another call's attempt (E14).
   */
  #lockWait(options: RunOptions<unknown>, owner: CallOwner): AttemptOptions | undefined {
    const limiter = this.#limiter;
    const cap = this.#lockTimeoutMs;
    if (limiter === undefined || cap === undefined || options.lockTimeoutMs !== undefined) return undefined;
    // A call nested in another's attempt shares that call's allowance, whose short wait is the outer's.
    if (owner.nested) return undefined;
    const allowance = owner.allowance;
    const maxDelayMs = this.#policy.maxDelayMs;
    return (base, session, context) => {
      shortWaitCaps.delete(allowance);
      if (session.sql.deadlockFoundAfterWait !== true || !allowance.mayRetry()) return base;
      const suggested = limiter.lockWaitMs();
      if (suggested === undefined) return base;
      const wait = suggested * 2 ** Math.min(context.attempt - 1, 20);
      if (cap !== 0 && wait >= cap) return base;
      // Twice the wait: the attempt's other statements take time too before and after the lock.
      if (allowance.deadlineAt - systemClock.now() < 2 * wait + maxDelayMs) return base;
      markShortLockWait(context);
      shortWaitCaps.set(allowance, cap);
      return withLockTimeout(base, wait);
    };
  }

  // Resolved scope options per distinct combination, so a call with the usual options validates nothing.
  readonly #scopeCache = new Map<string, AttemptScopeOptions>();
  #usualScope: AttemptScopeOptions | undefined;
  // The same with only an isolation level given (db.transaction(fn, { isolationLevel })), per level.
  readonly #isolatedScopes = new Map<IsolationLevel, AttemptScopeOptions>();

  #scopeOptions(
    options: RunOptions<unknown>,
    isolationLevel: IsolationLevel | undefined,
  ): AttemptScopeOptions {
    const lock =
      options.lockTimeoutMs === undefined ? this.#lockTimeoutMs : (options.lockTimeoutMs ?? undefined);
    const statement =
      options.statementTimeoutMs === undefined
        ? this.#statementTimeoutMs
        : (options.statementTimeoutMs ?? undefined);
    // The usual call (the runner's own timeouts, nothing else, or only an isolation level): no key built.
    const own =
      lock === this.#lockTimeoutMs &&
      statement === this.#statementTimeoutMs &&
      options.readOnly === undefined;
    const usual = own && isolationLevel === undefined;
    if (usual && this.#usualScope !== undefined) return this.#usualScope;
    const isolated =
      own && isolationLevel !== undefined ? this.#isolatedScopes.get(isolationLevel) : undefined;
    if (isolated !== undefined) return isolated;
    const key = `${lock}/${statement}/${options.readOnly}/${isolationLevel}`;
    let resolved = this.#scopeCache.get(key);
    if (resolved === undefined) {
      resolved = resolveAttemptScopeOptions({
        ...(lock === undefined ? {} : { lockTimeoutMs: lock }),
        ...(statement === undefined ? {} : { statementTimeoutMs: statement }),
        ...(options.readOnly === undefined ? {} : { readOnly: options.readOnly }),
        ...(isolationLevel === undefined ? {} : { isolationLevel }),
      });
      if (this.#scopeCache.size >= 64) this.#scopeCache.clear();
      this.#scopeCache.set(key, resolved);
    }
    if (usual) this.#usualScope = resolved;
    else if (own) this.#isolatedScopes.set(isolationLevel!, resolved);
    return resolved;
  }

  // Execute options of a unit over a source, resolved once per fixed options object (see isFixedOptions:
  // db.query's and db.transaction's own) and kind: the everyday call then validates nothing; other options as
  // before.
  readonly #sourcedBases = new WeakMap<object, Map<string, ResolvedExecuteOptions>>();

  #sourcedOptions<D>(
    options: RunOptions<D>,
    call: SourcedCall<unknown>,
    kind: 'transaction' | 'statement' | 'leaf',
    scope: ScopeFactory,
    classifier: Classifier,
    budget: CallAllowance | undefined,
  ): ExecuteOptions<D> {
    const name = kind === 'transaction' ? kind : 'statement';
    const leaf = kind === 'leaf';
    // Options a caller builds per call that only set the scope (and a signal), as `{ isolationLevel }`:
    // their execute options are the same every time but for the signal, so they share one resolution.
    const fixed = isFixedOptions(options);
    const shape = this.#logger !== undefined || fixed ? undefined : scopeOnly(options);
    if (this.#logger !== undefined || (shape === undefined && !fixed)) {
      return this.#executeOptions(options, () => call.dialect, name, this.#policy, {
        scope,
        classifier,
        leaf,
        ...(budget === undefined ? {} : { budget }),
      });
    }
    const key = shape ?? options;
    let bases = this.#sourcedBases.get(key);
    if (bases === undefined) {
      bases = new Map();
      this.#sourcedBases.set(key, bases);
    }
    let base = bases.get(kind);
    if (base === undefined) {
      base = callOptionsBase(
        resolveExecuteOptions(
          this.#executeOptions(options, '', name, this.#policy, { scope, classifier, leaf }),
        ),
      );
      // The first call's signal is not kept: each call sets its own.
      if (shape === scopeOnlyWithSignal) base = { ...base, signal: undefined };
      bases.set(kind, base);
    }
    const parts = withCallParts(base, scope, classifier, budget);
    if (shape === scopeOnlyWithSignal) (parts as { signal: AbortSignal | undefined }).signal = options.signal;
    return parts as ExecuteOptions<D>;
  }

  // Only an attempt that can end before its step does (a time limit or an abort) needs the fence.
  #fenced<Raw>(session: Session<Raw>, options: RunOptions<unknown>, context: AttemptContext): Session<Raw> {
    const abandonable =
      options.attemptTimeoutMs !== undefined ||
      options.deadlineMs !== undefined ||
      options.signal !== undefined;
    return abandonable ? fenceSession(session, context) : session;
  }

  #executeOptions<D>(
    options: RunOptions<D>,
    dialect: string | (() => string | undefined),
    kind: string,
    policy: RetryPolicy,
    extra: Pick<ExecuteOptions<D>, 'scope' | 'classifier' | 'budget' | 'onGiveUp' | 'leaf'> & {
      readonly deadlineMs?: number | undefined;
      readonly admitted?: boolean;
    },
  ): ExecuteOptions<D> {
    // Built by assignment, not spreads: this runs on every call and spreads of small objects add up.
    const o: Record<string, unknown> = {
      name: options.name ?? kind,
      policy,
      raises: options.raises ?? this.#raises,
      scope: extra.scope,
      classifier: extra.classifier,
    };
    if ('default' in options) o.default = options.default;
    if (options.readOnly !== undefined) o.readOnly = options.readOnly;
    if (options.attemptTimeoutMs !== undefined) o.attemptTimeoutMs = options.attemptTimeoutMs;
    if (options.deadlineMs !== undefined) o.deadlineMs = options.deadlineMs;
    if (extra.deadlineMs !== undefined) o.deadlineMs = extra.deadlineMs;
    if (options.idempotent !== undefined) o.idempotent = options.idempotent;
    if (options.signal !== undefined) o.signal = options.signal;
    if (this.#outageMs > 0) o.outageMs = this.#outageMs;
    if (this.#budget !== undefined) o.budget = this.#budget;
    if (this.#limiter !== undefined && extra.admitted !== false) {
      o.limiter = this.#limiter;
      if (extra.leaf === true) o.leaf = true;
    }
    if (extra.budget !== undefined) o.budget = extra.budget;
    if (extra.onGiveUp !== undefined) o.onGiveUp = extra.onGiveUp;
    if (this.#logger !== undefined) o.logger = withDialect(this.#logger, dialect);
    if (this.#target !== undefined) o.target = this.#target;
    return o as ExecuteOptions<D>;
  }
}

// Keys of run() and transaction() options that only shape the attempt scope, not the execute options.
const scopeKeys: ReadonlySet<PropertyKey> = new Set([
  'isolationLevel',
  'lockTimeoutMs',
  'statementTimeoutMs',
]);
// What per-call options of only those keys share their execute options under (see #sourcedOptions).
/**
 * The TypeError for a first argument that is not a Session, checked only once using it failed: a pool
 * (a SessionSource) handed to run() would otherwise fail with "session.inTransaction is not a function".
 */
function notASession(value: unknown, where: string): TypeError | undefined {
  if (isSessionSource(value)) {
    return new TypeError(
      `Expected the session of ${where} to be a Session, got a SessionSource: pass it to transaction(), which takes a session from it for each attempt`,
    );
  }
  const session = value as Partial<Session> | null | undefined;
  if (typeof session?.inTransaction === 'function') return undefined;
  return new TypeError(`Expected the session of ${where} to be a Session, got ${describeValue(value)}`);
}

const scopeOnlyOptions: object = Object.freeze({});
const scopeOnlyWithSignal: object = Object.freeze({});

/**
 * scopeOnlyOptions for a plain object of scope keys only, scopeOnlyWithSignal when it also has a signal,
 * else undefined (any other key, or not a plain object, whose reads could see more: a proxy may serve
 * `raises` or `name` it does not list, which would become every later such call's resolution).
 */
function scopeOnly(options: RunOptions<unknown>): object | undefined {
  if (!isPlainOptions(options)) return undefined;
  let shape = scopeOnlyOptions;
  for (const key of Reflect.ownKeys(options)) {
    if (key === 'signal') {
      if (options.signal !== undefined) shape = scopeOnlyWithSignal;
    } else if (!scopeKeys.has(key)) return undefined;
  }
  return shape;
}

// The full lock timeout of each owning call whose running attempt waits for locks for less (see #lockWait).
const shortWaitCaps = new WeakMap<CallAllowance, number>();
// Steps of each such call that restoreFullWait watches and that have not settled yet.
const watchedSteps = new WeakMap<CallAllowance, number>();

/**
 * A nested step may spend the owner's last retry after the owner's attempt began with a short lock wait:
 * that attempt is the last one now, so it gets the full wait back for the rest of its statements. Only once
 * no other watched step is running: an enclosing step's savepoint scope puts its saved lock wait back when it
 * ends (and its ROLLBACK TO undoes a SET LOCAL sent inside it), so the SET waits for the outermost step.
 */
async function restoreFullWait<T>(step: Promise<T>, session: Session, owner: CallAllowance): Promise<T> {
  watchedSteps.set(owner, (watchedSteps.get(owner) ?? 0) + 1);
  try {
    return await step;
  } finally {
    const running = (watchedSteps.get(owner) ?? 1) - 1;
    if (running > 0) watchedSteps.set(owner, running);
    else watchedSteps.delete(owner);
    const cap = shortWaitCaps.get(owner);
    if (
      running === 0 &&
      cap !== undefined &&
      !owner.mayRetry() &&
      session.inTransaction() === true &&
      !session.destroyed
    ) {
      shortWaitCaps.delete(owner);
      // A transaction the step's error aborted refuses the SET; it is ending anyway.
      await session
        .batch(session.sql.timeouts({ lockTimeoutMs: cap }, 0, 'transaction').apply)
        .catch(() => undefined);
    }
  }
}

// Scope options with a shorter lock wait, per options object and wait (a few powers of two apart).
const shortened = new WeakMap<AttemptScopeOptions, Map<number, AttemptScopeOptions>>();

function withLockTimeout(base: AttemptScopeOptions, lockTimeoutMs: number): AttemptScopeOptions {
  let byWait = shortened.get(base);
  if (byWait === undefined) {
    byWait = new Map();
    shortened.set(base, byWait);
  }
  let options = byWait.get(lockTimeoutMs);
  if (options === undefined) {
    options = resolveAttemptScopeOptions({ ...base, lockTimeoutMs });
    byWait.set(lockTimeoutMs, options);
  }
  return options;
}

/**
 * Ends the owner's hold on its connections once the call settled, whichever way. Not `finally` (every
 * unit's path): that makes three promises and two more turns before the caller sees the result.
 */
function settle<T>(result: Promise<T>, owner: CallOwner): Promise<T> {
  return result.then(
    (value) => {
      owner.end();
      return value;
    },
    (error: unknown) => {
      owner.end();
      throw error;
    },
  );
}

/** A nested step that gave up after using its retries: its owner must not run it all over again (E14). */
function giveUpNested(event: GiveUpEvent): void {
  if (event.reason === 'exhausted' || event.reason === 'budget' || event.reason === 'deadline')
    markSpent(event.error);
}

function transactionOpen(): DbopError {
  return new DbopError(
    'DBOP_TRANSACTION_OPEN',
    'runner.transaction() needs a session with no open transaction; use run() inside one',
  );
}

/** How a unit that owns its connection (a transaction or statement over a source) classifies failures. */
function sourcedClassifier(call: SourcedCall<unknown>, idempotent: boolean): Classifier {
  return (error) =>
    runnerClassification(error, call.dialect, { nested: false, canReconnect: true, idempotent });
}
