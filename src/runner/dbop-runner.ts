import type { AttemptContext } from '../core/attempt.js';
import { type AttemptScopeOptions, attemptScope, resolveAttemptScopeOptions } from '../core/attempt-scope.js';
import { checkTimeoutMs } from '../core/dialect-sql.js';
import { DbopError } from '../core/errors.js';
import { execute } from '../core/execute.js';
import type { ExecuteOptions, Logger } from '../core/execute-options.js';
import { type RetryPolicy, retryPolicy } from '../core/retry-policy.js';
import { type IsolationLevel, isSessionSource, type Session, type SessionSource } from '../core/session.js';
import { runnerClassification } from './runner-classifier.js';
import { withDialect } from './runner-logger.js';
import {
  checkKeys,
  type DbOpRunnerOptions,
  type RunOptions,
  type TransactionOptions,
} from './runner-options.js';
import { SourcedCall } from './sourced-call.js';

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
 * const runner = new DbOpRunner({ maxRetries: 3, logger });
 * await runner.transaction(pgPoolSource(pool), async (s) => { await runner.run(s, debit); await runner.run(s, credit); });
 */
export class DbOpRunner {
  readonly #policy: RetryPolicy;
  readonly #lockTimeoutMs: number | undefined;
  readonly #statementTimeoutMs: number | undefined;
  readonly #raises: boolean;
  readonly #logger: Logger | undefined;
  readonly #budget: DbOpRunnerOptions['budget'];

  constructor(options: DbOpRunnerOptions = {}) {
    checkKeys(options, 'runner');
    const { maxRetries, initialDelayMs, maxDelayMs, jitter } = options;
    this.#policy = retryPolicy({
      ...(maxRetries === undefined ? {} : { maxRetries }),
      ...(initialDelayMs === undefined ? {} : { initialDelayMs }),
      ...(maxDelayMs === undefined ? {} : { maxDelayMs }),
      ...(jitter === undefined ? {} : { jitter }),
    });
    const lock = options.defaultLockTimeoutMs === undefined ? 10_000 : options.defaultLockTimeoutMs;
    this.#lockTimeoutMs = checkTimeoutMs('defaultLockTimeoutMs', lock ?? undefined);
    this.#statementTimeoutMs = checkTimeoutMs(
      'defaultStatementTimeoutMs',
      options.defaultStatementTimeoutMs ?? undefined,
    );
    if (options.defaultRaises !== undefined && typeof options.defaultRaises !== 'boolean') {
      throw new TypeError(`Expected \`defaultRaises\` to be a boolean, got ${String(options.defaultRaises)}`);
    }
    this.#raises = options.defaultRaises ?? true;
    this.#logger = options.logger;
    this.#budget = options.budget;
  }

  /**
   * Runs fn(session) in an attempt scope with retries (R1): a transaction it commits itself when none is
   * open, else a SAVEPOINT that never commits the caller's work.
   */
  run<T, Raw, D = undefined>(
    session: Session<Raw>,
    fn: StepFunction<T, Raw>,
    options: RunOptions<D> = {},
  ): Promise<T | D> {
    checkKeys(options, 'run');
    const nested = session.inTransaction();
    const scope = this.#scopeOptions(options, undefined);
    return execute(
      (context) => fn(session, context),
      this.#executeOptions(options, session.dialect, 'run', {
        scope: () => attemptScope(session, scope),
        classifier: (error) =>
          runnerClassification(error, session.dialect, {
            nested,
            canReconnect: false,
            idempotent: options.idempotent === true,
          }),
      }),
    ) as Promise<T | D>;
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
    checkKeys(options, 'transaction');
    const source = isSessionSource(target) ? (target as SessionSource<Raw>) : undefined;
    const fixed = source === undefined ? (target as Session<Raw>) : undefined;
    if (fixed?.inTransaction() === true) {
      throw new DbopError(
        'DBOP_TRANSACTION_OPEN',
        'runner.transaction() needs a session with no open transaction; use run() inside one',
      );
    }
    const scopeOptions = this.#scopeOptions(options, options.isolationLevel);
    const idempotent = options.idempotent === true;
    if (fixed !== undefined) {
      const dialect = fixed.dialect;
      return execute(
        (context) => fn(fixed, context),
        this.#executeOptions(options, dialect, 'transaction', {
          scope: () => attemptScope(fixed, scopeOptions),
          classifier: (error) =>
            runnerClassification(error, dialect, { nested: false, canReconnect: false, idempotent }),
        }),
      ) as Promise<T | D>;
    }
    const call = new SourcedCall(source!, scopeOptions);
    return execute(
      (context) => fn(call.session(), context),
      this.#executeOptions(options, () => call.dialect, 'transaction', {
        scope: () => call.scope(),
        classifier: (error) =>
          runnerClassification(error, call.dialect ?? 'postgres', {
            nested: false,
            canReconnect: true,
            idempotent,
          }),
      }),
    ) as Promise<T | D>;
  }

  // Resolved scope options per distinct combination, so a call with the usual options validates nothing.
  readonly #scopeCache = new Map<string, AttemptScopeOptions>();

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
    return resolved;
  }

  #executeOptions<D>(
    options: RunOptions<D>,
    dialect: string | (() => string | undefined),
    kind: string,
    extra: Pick<ExecuteOptions<D>, 'scope' | 'classifier'>,
  ): ExecuteOptions<D> {
    // Built by assignment, not spreads: this runs on every call and spreads of small objects add up.
    const o: Record<string, unknown> = {
      name: options.name ?? kind,
      policy: this.#policy,
      raises: options.raises ?? this.#raises,
      scope: extra.scope,
      classifier: extra.classifier,
    };
    if ('default' in options) o.default = options.default;
    if (options.readOnly !== undefined) o.readOnly = options.readOnly;
    if (options.attemptTimeoutMs !== undefined) o.attemptTimeoutMs = options.attemptTimeoutMs;
    if (options.deadlineMs !== undefined) o.deadlineMs = options.deadlineMs;
    if (options.idempotent !== undefined) o.idempotent = options.idempotent;
    if (options.signal !== undefined) o.signal = options.signal;
    if (this.#budget !== undefined) o.budget = this.#budget;
    if (this.#logger !== undefined) o.logger = withDialect(this.#logger, dialect);
    return o as ExecuteOptions<D>;
  }
}
