import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { channelNames, type ErrorMessage } from '../core/diagnostics.js';
import { errorClass } from './error-attributes.js';
import { listenerGuard } from './guard-listener.js';

/** The part of a prom-client Counter that {@link countDbopErrors} uses (anything with this shape works). */
export interface LabelCounter {
  inc(labels: Record<string, string>, value?: number): void;
}

/**
 * Counts every failed attempt on `counter` with labels class, code and kind, like FAForever's
 * db_exceptions_total{class, code}. Create the counter with labelNames ['class', 'code', 'kind'].
 * Returns a function that stops counting.
 * @example countDbopErrors(new Counter({ name: 'db_exceptions_total', help: 'Database errors', labelNames: ['class', 'code', 'kind'] }))
 */
export function countDbopErrors(counter: LabelCounter): () => void {
  if (typeof counter?.inc !== 'function') {
    throw new TypeError(
      'countDbopErrors(): expected `counter` to have an inc(labels) method (a prom-client Counter)',
    );
  }
  const listener = listenerGuard('countDbopErrors()')((message: unknown): void => {
    const { error, classification } = message as ErrorMessage;
    counter.inc({
      class: errorClass(error),
      code: classification?.code ?? '',
      kind: classification?.kind ?? 'unknown',
    });
  });
  subscribe(channelNames.error, listener);
  return () => unsubscribe(channelNames.error, listener);
}
