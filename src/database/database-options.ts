import { type BeginOptions, type IsolationLevel, isolationLevels } from '../core/session.js';
import {
  describeValue,
  expectDelayMs,
  expectOptionalBoolean,
  expectOptionsObject,
  invalid,
  orDefault,
  rejectUnknownKeys,
} from '../core/validate.js';

/** Options of {@link Database.acquire}. */
export interface AcquireOptions {
  readonly isolationLevel?: IsolationLevel;
  readonly readOnly?: boolean;
}

/** Options of {@link DatabaseConnection.deadlockRetryExecute}. */
export interface DeadlockRetryOptions {
  /** Total attempts, the last one without error handling (FAForever's max_attempts). Default 3. */
  readonly maxAttempts?: number;
  /** Base delay before re-running after a rollback, ms; doubles per retry (FAForever: 300). Default 300. */
  readonly delayMs?: number;
}

const acquireKeys: ReadonlySet<string> = new Set(['isolationLevel', 'readOnly']);
const deadlockRetryKeys: ReadonlySet<string> = new Set(['maxAttempts', 'delayMs']);

/**
 * Checks acquire()'s options and returns exactly the BEGIN options they mean: nothing else (an `alsoRun`
 * smuggled in by a caller, say) ever reaches the session.
 */
export function resolveAcquireOptions(options: unknown): BeginOptions {
  expectOptionsObject(options, 'acquire()');
  if (options === undefined) return Object.freeze({});
  rejectUnknownKeys(options, acquireKeys, 'acquire()');
  const { isolationLevel, readOnly } = options as AcquireOptions;
  if (isolationLevel !== undefined && !(isolationLevels as readonly unknown[]).includes(isolationLevel)) {
    invalid(
      'isolationLevel',
      `one of ${isolationLevels.map((level) => `"${level}"`).join(', ')}`,
      isolationLevel,
    );
  }
  expectOptionalBoolean('readOnly', readOnly);
  return Object.freeze({
    ...(isolationLevel === undefined ? {} : { isolationLevel }),
    ...(readOnly === undefined ? {} : { readOnly }),
  });
}

/** Checks deadlockRetryExecute()'s options and fills in the defaults. */
export function resolveDeadlockRetryOptions(options: unknown): Required<DeadlockRetryOptions> {
  expectOptionsObject(options, 'deadlockRetryExecute()');
  const given = (options ?? {}) as DeadlockRetryOptions;
  rejectUnknownKeys(given, deadlockRetryKeys, 'deadlockRetryExecute()');
  const maxAttempts = orDefault(given.maxAttempts, 3);
  const delayMs = orDefault(given.delayMs, 300);
  if (typeof maxAttempts !== 'number' || !Number.isSafeInteger(maxAttempts) || maxAttempts < 1) {
    invalid('maxAttempts', 'a positive integer', maxAttempts);
  }
  expectDelayMs('delayMs', delayMs);
  return Object.freeze({ maxAttempts, delayMs });
}

/** Throws unless `fn` is a function: a step that is not one would fail only when first called. */
export function expectStep(fn: unknown, where: string): void {
  if (typeof fn !== 'function') {
    throw new TypeError(`Expected the argument of ${where} to be a function, got ${describeValue(fn)}`);
  }
}
