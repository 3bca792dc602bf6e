import type { Clock } from '../core/clock.js';

/** `opening`, or the abort reason once `signal` aborts first; what `opening` yields after that goes to `late`. */
export function untilAborted<C>(
  opening: Promise<C>,
  signal: AbortSignal,
  late: (value: C) => void,
): Promise<C> {
  return new Promise<C>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    opening.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) late(value);
        else resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * One check round trip (a ping, a reset) that fails with `new Error(message)` after `ms`, even when the
 * driver ignores its signal: a half-open socket never answers, and nothing else would end the wait.
 */
export function boundedCheck(
  check: (signal: AbortSignal) => Promise<unknown> | unknown,
  ms: number,
  clock: Clock,
  message: string,
): Promise<unknown> {
  const controller = new AbortController();
  const timer = clock.setTimeout(() => controller.abort(new Error(message)), ms);
  const checking = (async () => check(controller.signal))();
  return untilAborted(checking, controller.signal, () => {}).finally(() => clock.clearTimeout(timer));
}
