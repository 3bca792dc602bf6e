import { onAbort } from './abort-listener.js';
import type { Clock } from './clock.js';

/**
 * Waits `ms` on the clock; rejects with `signal.reason` as soon as the signal aborts (E8). The timer is
 * deliberately NOT unref'd: a retry in progress is work the process owes, and an unref'd sleep lets a
 * script whose only pending work is the retry (better-sqlite3, for one) exit silently with code 13.
 */
export function sleep(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal === undefined) {
      clock.setTimeout(resolve, ms);
      return;
    }
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    // The abort first: an injected clock may run the timer before setTimeout returns (a test clock that
    // only records delays), and it stops the wait for the abort.
    let handle: unknown;
    const stop = onAbort(signal, (reason) => {
      clock.clearTimeout(handle);
      reject(reason);
    });
    handle = clock.setTimeout(() => {
      stop();
      resolve();
    }, ms);
  });
}
