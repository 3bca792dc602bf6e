import type { AttemptContext, AttemptScope } from '../core/attempt.js';
import { attemptScope } from '../core/attempt-scope.js';
import { checkTimeoutMs } from '../core/dialect-sql.js';
import { DbopError } from '../core/errors.js';
import { execute } from '../core/execute.js';
import type { ExecuteOptions, Logger } from '../core/execute-options.js';
import { type RetryPolicy, retryPolicy } from '../core/retry-policy.js';
import { isSessionSource, type Session, type SessionSource } from '../core/session.js';
import { runnerClassification } from './runner-classifier.js';
import { withDialect } from './runner-logger.js';
import {
  checkKeys,
  type DbOpRunnerOptions,
  type RunOptions,
  type TransactionOptions,
} from './runner-options.js';

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
    const scope = this.#scopeOptions(options);
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
    const scopeOptions = {
      ...this.#scopeOptions(options),
      ...(options.isolationLevel === undefined ? {} : { isolationLevel: options.isolationLevel }),
    };
    let current = fixed;
    let dialect = fixed?.dialect;
    return execute(
      (context) => fn(current!, context),
      this.#executeOptions(options, () => dialect, 'transaction', {
        scope: (): AttemptScope => {
          let inner: AttemptScope | undefined;
          let held = false;
          // Given back exactly once per attempt, whichever of commit and rollback runs last.
          const finish = async (): Promise<void> => {
            if (!held || current === undefined) return;
            held = false;
            await source!.release(current);
          };
          return {
            async begin(context) {
              if (source !== undefined) {
                current = await source.acquire();
                held = true;
                dialect = current.dialect;
              }
              inner = attemptScope(current!, scopeOptions);
              try {
                await inner.begin(context);
              } catch (error) {
                await finish();
                throw error;
              }
            },
            async commit(context) {
              try {
                await inner!.commit(context);
              } finally {
                await finish();
              }
            },
            async rollback(context, error) {
              try {
                await inner?.rollback(context, error);
              } finally {
                await finish();
              }
            },
          };
        },
        classifier: (error) =>
          runnerClassification(error, dialect ?? 'postgres', {
            nested: false,
            canReconnect: source !== undefined,
            idempotent: options.idempotent === true,
          }),
      }),
    ) as Promise<T | D>;
  }

  #scopeOptions(options: RunOptions<unknown>): {
    lockTimeoutMs?: number;
    statementTimeoutMs?: number;
    readOnly?: boolean;
  } {
    const lock =
      options.lockTimeoutMs === undefined ? this.#lockTimeoutMs : (options.lockTimeoutMs ?? undefined);
    const statement =
      options.statementTimeoutMs === undefined
        ? this.#statementTimeoutMs
        : (options.statementTimeoutMs ?? undefined);
    return {
      ...(lock === undefined ? {} : { lockTimeoutMs: lock }),
      ...(statement === undefined ? {} : { statementTimeoutMs: statement }),
      ...(options.readOnly === undefined ? {} : { readOnly: options.readOnly }),
    };
  }

  #executeOptions<D>(
    options: RunOptions<D>,
    dialect: string | (() => string | undefined),
    kind: string,
    extra: Pick<ExecuteOptions<D>, 'scope' | 'classifier'>,
  ): ExecuteOptions<D> {
    const { name, readOnly, attemptTimeoutMs, deadlineMs, raises, idempotent, signal } = options;
    return {
      name: name ?? kind,
      policy: this.#policy,
      raises: raises ?? this.#raises,
      ...('default' in options ? { default: options.default as D } : {}),
      ...(readOnly === undefined ? {} : { readOnly }),
      ...(attemptTimeoutMs === undefined ? {} : { attemptTimeoutMs }),
      ...(deadlineMs === undefined ? {} : { deadlineMs }),
      ...(idempotent === undefined ? {} : { idempotent }),
      ...(signal === undefined ? {} : { signal }),
      ...(this.#budget === undefined ? {} : { budget: this.#budget }),
      ...(this.#logger === undefined ? {} : { logger: withDialect(this.#logger, dialect) }),
      ...extra,
    };
  }
}
