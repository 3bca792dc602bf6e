/**
 * The one option validator every public option bag goes through, so every bad value fails the same way:
 * a TypeError that names the option ("Expected `attemptTimeoutMs` to be ..., got 1000000000000").
 */

import { types } from 'node:util';

/**
 * The longest time a timer or a server timeout may be, ms (2^31 - 1, about 24.8 days). Node's setTimeout
 * fires at once, with a TimeoutOverflowWarning, past it; PostgreSQL's lock_timeout and statement_timeout
 * stop there too, and MySQL's and MariaDB's limits are higher, so one cap serves every backend.
 */
export const maxTimeoutMs: number = 2 ** 31 - 1;

/** Shows a bad option value in an error message without dumping whole objects or long strings. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string')
    return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return 'an array';
  if (value === null || typeof value !== 'object') return String(value);
  return 'an object';
}

/** The default only for a missing option: null is a value, and gets validated (and refused) as one. */
export function orDefault<T, D>(value: T | undefined, fallback: D): T | D {
  return value === undefined ? fallback : value;
}

/** Throws the precise TypeError every option check uses. */
export function invalid(name: string, expected: string, value: unknown): never {
  throw new TypeError(`Expected \`${name}\` to be ${expected}, got ${describeValue(value)}`);
}

/** Rejects keys a typo would otherwise make silently ignored. */
export function rejectUnknownKeys(options: object, known: ReadonlySet<string>, where: string): void {
  for (const key of Object.keys(options)) {
    if (!known.has(key)) {
      const shown = key.length > 40 ? `(a key of ${key.length} characters)` : `\`${key}\``;
      throw new TypeError(`Unknown option ${shown} of ${where}; known options: ${[...known].join(', ')}`);
    }
  }
}

/** Checks that options is undefined or a plain object (not null, an array, a function or a primitive). */
export function expectOptionsObject(options: unknown, where: string): asserts options is object | undefined {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new TypeError(`Expected the options of ${where} to be an object, got ${describeValue(options)}`);
  }
}

// Whether each frozen options object is a constant (see isFixedOptions): it can never change again.
const fixedness = new WeakMap<object, boolean>();

/**
 * Option values a resolution keeps as they are and never reads into: an AbortSignal, a RetryBudget or a
 * ConcurrencyLimiter (checked by class; their state is meant to change) and `default` (returned as given).
 * A fresh resolution would keep the same object, so these need not be frozen.
 */
const keptAsIs: ReadonlySet<PropertyKey> = new Set(['signal', 'budget', 'limiter', 'default']);

// Options hold objects one level down (a policy's options, a target, a clock). Past a few levels (a cycle,
// say) options are taken as not constant, which only costs them the cache.
const maxConstantDepth = 3;

/**
 * True when `options` can never read differently: frozen, a plain object (no prototype getters), not a
 * proxy, no own getter, and every object it holds (a policy's options, a retryOn array, a target, a clock)
 * the same, at every depth, but for the values kept as they are (see keptAsIs). Such options may be checked
 * and resolved once and the result reused. Object.freeze is shallow, and it fixes a getter, not what it
 * returns: a frozen object is not enough.
 */
export function isFixedOptions(options: object): boolean {
  if (!Object.isFrozen(options)) return false;
  let fixed = fixedness.get(options);
  if (fixed === undefined) {
    fixed = isConstant(options, 0);
    fixedness.set(options, fixed);
  }
  return fixed;
}

/** A frozen plain object or array, each own property a value: a primitive, a function or a constant too. */
function isConstant(object: object, depth: number): boolean {
  if (depth > maxConstantDepth || !Object.isFrozen(object)) return false;
  const plain = Array.isArray(object)
    ? !types.isProxy(object) && Object.getPrototypeOf(object) === Array.prototype
    : isPlainOptions(object);
  return (
    plain &&
    Reflect.ownKeys(object).every((key) => {
      const property = Object.getOwnPropertyDescriptor(object, key)!;
      if (!('value' in property)) return false;
      const value: unknown = property.value;
      return (
        typeof value !== 'object' ||
        value === null ||
        (depth === 0 && keptAsIs.has(key)) ||
        isConstant(value, depth + 1)
      );
    })
  );
}

/**
 * True for a plain object (Object.prototype or no prototype, so no inherited getters) that is not a proxy:
 * reading its own keys is all there is to it.
 */
export function isPlainOptions(options: object): boolean {
  const proto: unknown = Object.getPrototypeOf(options);
  return (proto === Object.prototype || proto === null) && !types.isProxy(options);
}

/** An options bag: undefined (then `{}`) or a plain object whose keys are all known. */
export function expectOptions<T extends object>(
  options: T | undefined,
  known: ReadonlySet<string>,
  where: string,
): T {
  expectOptionsObject(options, where);
  if (options === undefined) return {} as T;
  rejectUnknownKeys(options, known, where);
  return options;
}

/** A finite number >= min. */
export function expectFiniteAtLeast(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    invalid(name, min === 0 ? 'a finite non-negative number' : `a finite number >= ${min}`, value);
  }
  return value;
}

/** A finite number > 0. */
export function expectPositive(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    invalid(name, 'a finite positive number', value);
  }
  return value;
}

/** A safe integer >= min (and <= max when given). */
export function expectIntegerAtLeast(name: string, value: unknown, min: number, max?: number): number {
  if (
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    value < min ||
    (max !== undefined && value > max)
  ) {
    const kind =
      min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : `an integer >= ${min}`;
    invalid(name, max === undefined ? kind : `${kind} at most ${max}`, value);
  }
  return value;
}

/** A time a dbop timer waits (attempt timeout, deadline, cleanup limit): ms > 0, at most {@link maxTimeoutMs}. */
export function expectTimerMs(name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0 && value <= maxTimeoutMs)) {
    invalid(
      name,
      `a positive number of milliseconds at most ${maxTimeoutMs} (Node's timer limit; leave it out for no limit)`,
      value,
    );
  }
  return value;
}

/** A sleep between attempts, ms: from 0 to {@link maxTimeoutMs}. */
export function expectDelayMs(name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= maxTimeoutMs)) {
    invalid(name, `a number of milliseconds from 0 to ${maxTimeoutMs} (Node's timer limit)`, value);
  }
  return value;
}

/** {@link expectTimerMs}, or undefined. */
export function expectOptionalTimerMs(name: string, value: unknown): number | undefined {
  return value === undefined ? undefined : expectTimerMs(name, value);
}

/**
 * A server-side timeout (lock, statement): whole ms from 0 to {@link maxTimeoutMs}, or undefined. 0 means
 * no timeout (Postgres's and MySQL's own convention); each dialect maps it to its "wait forever" value.
 */
export function expectServerTimeoutMs(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > maxTimeoutMs) {
    invalid(name, `an integer of milliseconds from 0 (no timeout) to ${maxTimeoutMs}`, value);
  }
  return value;
}

/** A function, or undefined. */
export function expectOptionalFunction(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') invalid(name, 'a function', value);
}

/** A boolean, or undefined. */
export function expectOptionalBoolean(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'boolean') invalid(name, 'a boolean', value);
}

/** A string, or undefined. */
export function expectOptionalString(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'string') invalid(name, 'a string', value);
}

/** An AbortSignal, or undefined. */
export function expectOptionalSignal(name: string, value: unknown): void {
  if (value !== undefined && !(value instanceof AbortSignal)) invalid(name, 'an AbortSignal', value);
}

/** One of `values`, or undefined. */
export function expectOptionalOneOf<T>(name: string, value: unknown, values: readonly T[]): T | undefined {
  if (value !== undefined && !(values as readonly unknown[]).includes(value)) {
    invalid(name, `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`, value);
  }
  return value as T | undefined;
}

/** A pino-style logger (debug, info, warn, error; at least one of them a method), or undefined. */
export function expectOptionalLogger<L extends object>(name: string, value: unknown): L | undefined {
  if (value === undefined) return undefined;
  const methods = ['debug', 'info', 'warn', 'error'] as const;
  const record = value as Record<string, unknown>;
  const valid =
    typeof value === 'object' &&
    value !== null &&
    methods.every((m) => record[m] === undefined || typeof record[m] === 'function') &&
    methods.some((m) => typeof record[m] === 'function');
  if (!valid) invalid(name, 'a pino-style logger (debug, info, warn, error methods)', value);
  return value as L;
}
