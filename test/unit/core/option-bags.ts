import fc from 'fast-check';
import { expect } from 'vitest';
import { RetryBudget } from '../../../src/core/retry-budget.js';
import { isolationLevels } from '../../../src/core/session.js';

/** What one option accepts (`valid`) and values it must refuse (`junk`). */
export interface OptionSpec {
  readonly valid: fc.Arbitrary<unknown>;
  /** None: every value is valid (`default`). */
  readonly junk?: fc.Arbitrary<unknown>;
}

export type BagSpec = Readonly<Record<string, OptionSpec>>;

const fn = (): boolean => true;
/** Values no option accepts, whatever its type. */
const alwaysJunk: readonly unknown[] = [null, Number.NaN, Symbol('junk'), 10n];
const objects: readonly unknown[] = [[], {}, [1], new Date(0)];

function junkOf(...values: unknown[]): fc.Arbitrary<unknown> {
  return fc.constantFrom(...alwaysJunk, ...values);
}

/** A dbop timer (attemptTimeoutMs, deadlineMs, cleanupTimeoutMs): (0, 2^31 - 1] ms. */
export const timer: OptionSpec = {
  valid: fc.oneof(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.double({ min: 0.5, max: 1e6, noNaN: true })),
  junk: junkOf(0, -1, -0.5, Number.POSITIVE_INFINITY, 2 ** 31, 1e12, 2 ** 53, '100', true, fn, ...objects),
};

/** A server timeout (lockTimeoutMs, statementTimeoutMs): whole ms in [0, 2^31 - 1]; 0 is none. */
export const serverTimeout: OptionSpec = {
  valid: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  junk: junkOf(-1, 1.5, Number.POSITIVE_INFINITY, 2 ** 31, 1e12, 2 ** 53, '100', true, fn, ...objects),
};

/** A server timeout where null means "leave the server's own". */
export const nullableServerTimeout: OptionSpec = {
  valid: fc.oneof(fc.constant(null), serverTimeout.valid),
  junk: serverTimeout.junk!.filter((value) => value !== null),
};

export const boolean: OptionSpec = {
  valid: fc.boolean(),
  junk: junkOf(0, 1, 'true', '', fn, ...objects),
};

export const string: OptionSpec = {
  valid: fc.string({ maxLength: 20 }),
  junk: junkOf(0, 1, true, fn, ...objects),
};

export const func: OptionSpec = {
  valid: fc.constant(fn),
  junk: junkOf(0, 'f', true, ...objects),
};

export const signal: OptionSpec = {
  valid: fc.constant(new AbortController().signal),
  junk: junkOf(0, 'signal', true, fn, ...objects),
};

export const budget: OptionSpec = {
  valid: fc.constant(new RetryBudget()),
  junk: junkOf(0, 'budget', true, fn, ...objects),
};

export const isolationLevel: OptionSpec = {
  valid: fc.constantFrom(...isolationLevels),
  junk: junkOf('serial', 'SERIALIZABLE', 0, true, fn, ...objects),
};

export const maxRetries: OptionSpec = {
  valid: fc.integer({ min: 0, max: 10 }),
  junk: junkOf(-1, 1.5, '3', true, fn, ...objects),
};

/** initialDelayMs kept below maxDelayMs's smallest valid value, so the two never conflict. */
export const initialDelayMs: OptionSpec = {
  valid: fc.integer({ min: 0, max: 100 }),
  junk: junkOf(-1, Number.POSITIVE_INFINITY, 2 ** 31, 1e12, '1', true, fn, ...objects),
};

export const maxDelayMs: OptionSpec = {
  valid: fc.integer({ min: 1000, max: 2 ** 31 - 1 }),
  junk: junkOf(-1, Number.POSITIVE_INFINITY, 2 ** 31, 1e12, '1', true, fn, ...objects),
};

export const jitter: OptionSpec = {
  valid: fc.oneof(
    fc.constantFrom('full', 'equal', 'decorrelated', 'none'),
    fc.double({ min: 0, max: 1, noNaN: true }),
  ),
  junk: junkOf('fulll', -0.1, 1.5, true, fn, ...objects),
};

export const logger: OptionSpec = {
  valid: fc.constant({ warn() {} }),
  junk: junkOf(0, 'console', true, fn, [], { warn: 1 }, {}),
};

/** An option bag for `spec` with each key absent, valid or junk, and sometimes an unknown key. */
export interface Bag {
  readonly value: Record<string, unknown>;
  /** Keys holding junk, and an unknown key: the error must name one of them. */
  readonly bad: readonly string[];
}

export function bagOf(spec: BagSpec): fc.Arbitrary<Bag> {
  const known = Object.keys(spec);
  const entries = Object.fromEntries(
    known.map((key) => [
      key,
      fc.oneof(
        { weight: 3, arbitrary: fc.constant(undefined) },
        { weight: 3, arbitrary: spec[key]!.valid.map((value) => ({ value, junk: false })) },
        ...(spec[key]!.junk === undefined
          ? []
          : [{ weight: 1, arbitrary: spec[key]!.junk.map((value) => ({ value, junk: true })) }]),
      ),
    ]),
  );
  const unknownKey = fc.option(
    fc.string({ minLength: 1, maxLength: 12 }).filter((key) => !known.includes(key) && key !== '__proto__'),
    { freq: 6 },
  );
  return fc.record({ picks: fc.record(entries), unknown: unknownKey }).map(({ picks, unknown }) => {
    const value: Record<string, unknown> = {};
    const bad: string[] = [];
    for (const [key, pick] of Object.entries(picks)) {
      if (pick === undefined) continue;
      const { value: v, junk } = pick as { value: unknown; junk: boolean };
      value[key] = v;
      if (junk) bad.push(key);
    }
    if (unknown !== null) {
      value[unknown] = 1;
      bad.push(unknown);
    }
    return { value, bad };
  });
}

/** Anything that is not an options object: refused as a whole. */
export const notAnObject: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, 42, 0, true, false, 'options', [], [{}], fn, Number.NaN, Symbol('x')),
  fc.integer(),
  fc.string(),
);

/**
 * The property: a bag with junk or an unknown key is refused with a TypeError naming one of them; a clean
 * bag is accepted. `call` returns what the API threw (undefined when it accepted).
 */
export function checkBag(bag: Bag, thrown: unknown): void {
  if (bag.bad.length === 0) {
    expect(thrown).toBeUndefined();
    return;
  }
  expect(thrown).toBeInstanceOf(TypeError);
  const message = (thrown as Error).message;
  expect(
    bag.bad.some((key) => message.includes(`\`${key}\``)),
    message,
  ).toBe(true);
}

/** A whole non-object refused with the API's name in the message. */
export function checkNotObject(thrown: unknown, where: string): void {
  expect(thrown).toBeInstanceOf(TypeError);
  expect((thrown as Error).message).toContain(`Expected the options of ${where} to be an object`);
}

/** What a call threw, synchronously or by rejecting; undefined when it returned normally. */
export function thrownBy(call: () => unknown): unknown {
  try {
    call();
    return undefined;
  } catch (error) {
    return error;
  }
}

export async function rejectionOf(call: () => unknown): Promise<unknown> {
  try {
    await call();
    return undefined;
  } catch (error) {
    return error;
  }
}
