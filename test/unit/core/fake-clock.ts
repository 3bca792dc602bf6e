import type { Clock } from '../../../src/core/clock.js';

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
}

/** Lets every pending microtask (and real I/O callbacks) run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A manual clock for deterministic tests: time only moves when the test moves it. */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, Timer>();
  /** Every delay ever passed to setTimeout, in order. */
  readonly requested: number[] = [];

  constructor(start = 1_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const seq = ++this.#seq;
    this.requested.push(ms);
    this.#timers.set(seq, { at: this.#now + Math.max(0, ms), seq, callback });
    return seq;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers scheduled and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by ms, firing due timers in order and letting microtasks run after each. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await flush();
    for (let next = this.#next(); next !== undefined && next.at <= target; next = this.#next()) {
      this.#fire(next);
      await flush();
    }
    this.#now = target;
    await flush();
  }

  /** Jumps from timer to timer until the promise settles; fails if it is stuck with no timer left. */
  async settle<T>(promise: Promise<T>): Promise<T> {
    let settled = false;
    const watched = promise.finally(() => {
      settled = true;
    });
    watched.catch(() => {});
    for (let i = 0; i < 100_000; i++) {
      await flush();
      if (settled) return watched;
      const next = this.#next();
      if (next === undefined)
        throw new Error('FakeClock.settle: the promise is pending and no timer is left');
      this.#fire(next);
    }
    throw new Error('FakeClock.settle: too many timers');
  }

  #next(): Timer | undefined {
    let best: Timer | undefined;
    for (const timer of this.#timers.values()) {
      if (best === undefined || timer.at < best.at || (timer.at === best.at && timer.seq < best.seq))
        best = timer;
    }
    return best;
  }

  #fire(timer: Timer): void {
    this.#timers.delete(timer.seq);
    this.#now = Math.max(this.#now, timer.at);
    timer.callback();
  }
}

/** A deterministic random source cycling through the given values (each in [0, 1)). */
export function sequenceRandom(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}
