/** The callbacks waiting on one signal, and the one listener that calls them. */
interface Watch {
  readonly callbacks: Set<(reason: unknown) => void>;
  readonly listener: () => void;
}

// Weakly held: a signal nobody aborts and nobody waits on any more is freed with its (empty) entry.
const watched = new WeakMap<AbortSignal, Watch>();

function ignore(): void {}

/**
 * Calls `onAbort(signal.reason)` once, when `signal` aborts; returns the function that stops waiting (a
 * no-op once called or once the signal aborted). Every waiter on one signal shares one abort listener: a
 * caller's signal is often shared by many concurrent calls, and a listener each would pass Node's limit of
 * ten and print MaxListenersExceededWarning, a leak warning for what is not a leak. Nothing is called for a
 * signal that already aborted: the caller checks `signal.aborted` first. Callbacks run in the order they
 * came; one that throws is reported as uncaught (as a throwing event listener is) and stops none of the rest.
 */
export function onAbort(signal: AbortSignal, callback: (reason: unknown) => void): () => void {
  if (signal.aborted) return ignore;
  let watch = watched.get(signal);
  if (watch === undefined) {
    const callbacks = new Set<(reason: unknown) => void>();
    const listener = (): void => {
      watched.delete(signal);
      // The live set: a callback that stops another one still waiting (its unit ended) skips it.
      for (const each of callbacks) {
        callbacks.delete(each);
        try {
          each(signal.reason);
        } catch (error) {
          queueMicrotask(() => {
            throw error;
          });
        }
      }
    };
    watch = { callbacks, listener };
    watched.set(signal, watch);
    signal.addEventListener('abort', listener, { once: true });
  }
  // A function of its own per call: the same callback given twice is stopped once per call.
  const entry = (reason: unknown): void => callback(reason);
  const own = watch;
  own.callbacks.add(entry);
  return () => {
    if (!own.callbacks.delete(entry) || own.callbacks.size > 0 || watched.get(signal) !== own) return;
    watched.delete(signal);
    signal.removeEventListener('abort', own.listener);
  };
}
