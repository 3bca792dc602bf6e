/** Time source and timers of the engine; inject one to make every delay and timeout deterministic (E12). */
export interface Clock {
  /** Milliseconds; only differences matter, so it must never go backwards. */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

// Wall-clock origin plus a monotonic offset: readable as epoch ms in logs, yet immune to clock steps.
const origin: number = performance.timeOrigin;

/** The real clock: monotonic `now()` in epoch milliseconds and Node's timers. */
export const systemClock: Clock = Object.freeze({
  now: (): number => origin + performance.now(),
  setTimeout: (callback: () => void, ms: number): unknown => setTimeout(callback, ms),
  clearTimeout: (handle: unknown): void => clearTimeout(handle as NodeJS.Timeout),
});
