/** One benchmark case: called `batch` times per sample; may return a promise, which is awaited. */
export type BenchCase = () => unknown;

/**
 * What a bench/*.bench.ts file exports, as `export const suite: BenchSuite = {...}`. The runner measures
 * every case in the same process, one after the other, and prints them side by side.
 */
export interface BenchSuite {
  /** Title of the table. */
  readonly name: string;
  /** Case name -> function. */
  readonly cases: Readonly<Record<string, BenchCase>>;
  /** The case the others are compared with (an "overhead" column is the difference of means). */
  readonly baseline?: string;
  /** Calls per timed sample, so sub-microsecond cases are not drowned by the timer. Default 1000. */
  readonly batch?: number;
  /** Time budget per case, ms. Default 1000 (env BENCH_TIME_MS overrides). */
  readonly timeMs?: number;
  /** Extra checks run after the table (heap growth, ...); each returned line is printed. */
  readonly after?: () => Promise<readonly string[]> | readonly string[];
  /**
   * A load test rather than timed calls (goodput): the runner calls it instead of measuring `cases`, with
   * the command line's `--flags`, and it prints its own table.
   */
  readonly run?: (flags: readonly string[]) => Promise<void>;
}
