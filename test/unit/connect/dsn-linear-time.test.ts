import { describe, expect, it } from 'vitest';
import { maxDsnLength } from '../../../src/connect/dsn.js';
import { parseDsn } from '../../../src/connect/parse-dsn.js';
import { redactDsn } from '../../../src/connect/redact-dsn.js';
import { redactSecrets } from '../../../src/connect/redact-secrets.js';

// Inputs that made the old regexes backtrack, or could make a careless scanner rescan: long runs of
// scheme letters, of '@', ',', '%', '&' and ':'.
const families: ReadonlyArray<readonly [string, (n: number) => string]> = [
  ['letters', (n) => 'a'.repeat(n)],
  ['letters then ://', (n) => `${'a'.repeat(n)}://`],
  ['userinfo without @', (n) => `postgres://u:${'a'.repeat(n)}`],
  ['many @', (n) => `postgres://${'u:p@'.repeat(n / 4)}h/db`],
  ['many hosts', (n) => `postgres://u:p@${'h,'.repeat(n / 2)}h/db`],
  ['many escapes', (n) => `postgres://u:${'%41'.repeat(n / 3)}@h/db`],
  ['many parameters', (n) => `postgres://h/db?${'a=1&'.repeat(n / 4)}`],
  ['many colons', (n) => `mysql://${':'.repeat(n)}@h`],
  ['spaces and words', (n) => `could not connect to ${'postgres://u:p '.repeat(n / 15)}`],
];

/** The fastest of `trials` runs of fn over `rounds` repetitions, ms: the least disturbed by other load. */
function fastest(fn: () => void, rounds: number, trials = 5): number {
  let best = Number.POSITIVE_INFINITY;
  for (let trial = 0; trial < trials; trial += 1) {
    const started = performance.now();
    for (let round = 0; round < rounds; round += 1) fn();
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

function attempt(fn: () => unknown): void {
  try {
    fn();
  } catch {
    // Refused input is fine; only the time counts.
  }
}

describe('parsing and redaction take linear time', () => {
  it('refuses a 200,000-character URL at once, naming the limit', () => {
    for (const [, make] of families) {
      const url = make(200_000);
      const started = performance.now();
      expect(() => parseDsn(url)).toThrow(`the limit is ${maxDsnLength}`);
      expect(redactDsn(url)).toBe('[invalid database URL]');
      // Generous: the old regexes took over 12 s here; a linear pass takes well under a millisecond.
      expect(performance.now() - started).toBeLessThan(1000);
    }
  });

  it('redacts 200,000 characters of free text in well under a second', () => {
    for (const [, make] of families) {
      const text = make(200_000);
      const started = performance.now();
      redactSecrets(text);
      expect(performance.now() - started).toBeLessThan(2000);
    }
  });

  // 10x the input may take at most 30x the time (linear is 10x, quadratic 100x). Each ratio is the best of
  // three measurements, each the best of five runs, so that a busy machine does not make it flaky.
  for (const [name, make] of families) {
    it(`10x the input costs about 10x the time: ${name}`, () => {
      const small = make(maxDsnLength / 10);
      const large = make(maxDsnLength - 100);
      const parse = (url: string) => () => attempt(() => parseDsn(url));
      expect(bestRatio(parse(small), parse(large), 20)).toBeLessThan(30);
      const textSmall = make(10_000);
      const textLarge = make(100_000);
      expect(
        bestRatio(
          () => redactSecrets(textSmall),
          () => redactSecrets(textLarge),
          4,
        ),
      ).toBeLessThan(30);
    }, 60_000);
  }
});

/** Per-call time of `large` over that of `small` (run 10x as often), the lowest of three measurements. */
function bestRatio(small: () => void, large: () => void, rounds: number): number {
  let best = Number.POSITIVE_INFINITY;
  for (let measurement = 0; measurement < 3 && best >= 30; measurement += 1) {
    const ratio = fastest(large, rounds) / rounds / (fastest(small, rounds * 10) / (rounds * 10));
    best = Math.min(best, ratio);
  }
  return best;
}
