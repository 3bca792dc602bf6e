import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { metrics, trace } from '@opentelemetry/api';
import type { LimiterMessage } from '../core/concurrency-limiter.js';
import {
  type AttemptMessage,
  channelNames,
  type ErrorMessage,
  type OperationMessage,
  type RetryMessage,
} from '../core/diagnostics.js';
import {
  type PoolAcquireMessage,
  type PoolCreateMessage,
  type PoolReleaseMessage,
  type PoolTimeoutMessage,
  poolChannelNames,
} from '../pool/pool-channels.js';
import { DbopMetrics } from './dbop-metrics.js';
import { DbopSpans } from './dbop-spans.js';
import { listenerGuard } from './guard-listener.js';
import { type InstrumentDbopOptions, resolveInstrumentOptions } from './otel-options.js';
import { PoolMetrics } from './pool-metrics.js';

/** What {@link instrumentDbop} returns: stop() unsubscribes and ends spans still open. */
export interface DbopInstrumentation {
  /** Whether spans are emitted (the option, else DBOP_OTEL_ENABLED). */
  readonly traces: boolean;
  /** Whether metrics are emitted (the option, else DBOP_OTEL_METRICS_ENABLED). */
  readonly metrics: boolean;
  stop(): void;
}

const scope = 'dbop';
const scopeVersion = '0.1.0';

/**
 * Turns dbop's diagnostics channels into OpenTelemetry spans (one per operation, a child per attempt) and
 * metrics (dbop.operations, dbop.attempts, dbop.operation.duration, dbop.errors, the limiter's gauges, and the
 * pools' db.client.connection.* metrics). The SDK is yours: pass
 * providers or register global ones. No SQL text and no parameter values are ever recorded.
 * @example const otel = instrumentDbop({ tracerProvider, meterProvider, attributes: { 'db.system.name': 'postgresql' } })
 */
export function instrumentDbop(options?: InstrumentDbopOptions): DbopInstrumentation {
  const o = resolveInstrumentOptions(options);
  const spans = o.traces
    ? new DbopSpans(
        (o.tracerProvider ?? trace.getTracerProvider()).getTracer(scope, scopeVersion),
        o.attributes,
      )
    : undefined;
  const meters = o.metrics
    ? new DbopMetrics(
        (o.meterProvider ?? metrics.getMeterProvider()).getMeter(scope, scopeVersion),
        o.attributes,
      )
    : undefined;
  const pools = o.metrics
    ? new PoolMetrics(
        (o.meterProvider ?? metrics.getMeterProvider()).getMeter(scope, scopeVersion),
        o.attributes,
      )
    : undefined;
  const listeners: [string, (message: unknown) => void][] = [];
  const guard = listenerGuard('instrumentDbop()');
  const on = (name: string, listener: (message: unknown) => void) => {
    const guarded = guard(listener);
    subscribe(name, guarded);
    listeners.push([name, guarded]);
  };
  // Each listener is its own closure: unsubscribe() needs the very function, and two handles must not collide.
  if (spans !== undefined || meters !== undefined) {
    on(channelNames.operation, (m) => {
      spans?.operation(m as OperationMessage);
      meters?.operation(m as OperationMessage);
    });
    on(channelNames.attempt, (m) => {
      spans?.attempt(m as AttemptMessage);
      meters?.attempt(m as AttemptMessage);
    });
    on(channelNames.error, (m) => {
      spans?.error(m as ErrorMessage);
      meters?.error(m as ErrorMessage);
    });
  }
  if (meters !== undefined) on(channelNames.limiter, (m) => meters.limiter(m as LimiterMessage));
  if (spans !== undefined) on(channelNames.retry, (m) => spans.retry(m as RetryMessage));
  if (pools !== undefined) {
    on(poolChannelNames.acquire, (m) => pools.acquire(m as PoolAcquireMessage));
    on(poolChannelNames.release, (m) => pools.release(m as PoolReleaseMessage));
    on(poolChannelNames.create, (m) => pools.create(m as PoolCreateMessage));
    on(poolChannelNames.timeout, (m) => pools.timeout(m as PoolTimeoutMessage));
  }
  let stopped = false;
  return Object.freeze({
    traces: o.traces,
    metrics: o.metrics,
    stop(): void {
      if (stopped) return;
      stopped = true;
      for (const [name, listener] of listeners) unsubscribe(name, listener);
      spans?.endAll();
      meters?.stop();
      pools?.stop();
    },
  });
}
