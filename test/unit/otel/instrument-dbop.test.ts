import { AsyncLocalStorage } from 'node:async_hooks';
import { channel } from 'node:diagnostics_channel';
import { type Context, type ContextManager, context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { ConcurrencyLimiter } from '../../../src/core/concurrency-limiter.js';
import { channelNames } from '../../../src/core/diagnostics.js';
import { execute } from '../../../src/core/execute.js';
import { retryPolicy } from '../../../src/core/retry-policy.js';
import { countDbopErrors, type DbopInstrumentation, instrumentDbop } from '../../../src/otel/index.js';

const spanExporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({
  exporter: metricExporter,
  exportIntervalMillis: 3_600_000,
});
const meterProvider = new MeterProvider({ readers: [reader] });
let handle: DbopInstrumentation | undefined;

afterEach(() => {
  handle?.stop();
  handle = undefined;
  spanExporter.reset();
});

const subscribed = (): boolean[] => Object.values(channelNames).map((name) => channel(name).hasSubscribers);

async function gauges(): Promise<Record<string, number>> {
  metricExporter.reset();
  await reader.forceFlush();
  const out: Record<string, number> = {};
  for (const m of metricExporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics))) {
    for (const p of m.dataPoints) if (typeof p.value === 'number') out[m.descriptor.name] = p.value;
  }
  return out;
}

describe('instrumentDbop options', () => {
  it('rejects unknown options, bad switches and attribute keys that name a secret, precisely', () => {
    expect(() => instrumentDbop({ tracer: 1 } as never)).toThrow('instrumentDbop(): unknown option `tracer`');
    expect(() => instrumentDbop({ env: { DBOP_OTEL_ENABLED: 'maybe' } })).toThrow(
      'Expected env DBOP_OTEL_ENABLED to be one of 1, true, yes, on, 0, false, no, off; got "maybe"',
    );
    expect(() => instrumentDbop({ attributes: { 'db.password': 'x' }, env: {} })).toThrow(
      'expected `attributes.db.password` to be a key that names no secret',
    );
    expect(() => instrumentDbop({ serviceVersion: '', env: {} })).toThrow(
      '`serviceVersion` to be a non-empty string',
    );
    expect(subscribed().some(Boolean)).toBe(false);
  });

  it('DBOP_OTEL_ENABLED=0 subscribes nothing, so execute keeps its hot path; options win over env', () => {
    handle = instrumentDbop({ tracerProvider, meterProvider, env: { DBOP_OTEL_ENABLED: '0' } });
    expect([handle.traces, handle.metrics]).toEqual([false, false]);
    expect(subscribed().some(Boolean)).toBe(false);
    handle.stop();
    handle = instrumentDbop({
      tracerProvider,
      meterProvider,
      traces: true,
      env: { DBOP_OTEL_ENABLED: 'off' },
    });
    expect([handle.traces, handle.metrics]).toEqual([true, false]);
  });

  it('DBOP_OTEL_METRICS_ENABLED=false keeps spans only; DBOP_SERVICE_VERSION lands on spans', async () => {
    handle = instrumentDbop({
      tracerProvider,
      meterProvider,
      env: { DBOP_OTEL_METRICS_ENABLED: 'false', DBOP_SERVICE_VERSION: '1.2.3' },
    });
    expect([handle.traces, handle.metrics]).toEqual([true, false]);
    await execute(() => 1, { name: 'one' });
    const [span] = spanExporter.getFinishedSpans();
    expect(span?.attributes['service.version']).toBe('1.2.3');
  });

  it('stop() unsubscribes every channel and ends spans still open', async () => {
    handle = instrumentDbop({ tracerProvider, meterProvider, env: {} });
    expect(subscribed().every(Boolean)).toBe(true);
    let release!: () => void;
    const running = execute(() => new Promise<void>((r) => (release = r)), { name: 'slow' });
    await Promise.resolve();
    handle.stop();
    handle.stop();
    expect(subscribed().some(Boolean)).toBe(false);
    expect(
      spanExporter.getFinishedSpans().map((s) => [s.name, s.attributes['dbop.instrumentation_stopped']]),
    ).toEqual([
      ['slow attempt', undefined],
      ['slow', true],
    ]);
    release();
    await running;
  });

  it('a tracer, meter or counter that throws never reaches the process (no uncaughtException), and dbop goes on', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown): void => {
      uncaught.push(error);
    };
    process.on('uncaughtException', onUncaught);
    const boom = (): never => {
      throw new Error('exporter down');
    };
    const throwingTracer = { getTracer: () => ({ startSpan: boom, startActiveSpan: boom }) } as never;
    const throwingMeter = {
      getMeter: () => ({
        createCounter: () => ({ add: boom }),
        createHistogram: () => ({ record: boom }),
        createObservableGauge: () => ({}),
        createObservableUpDownCounter: () => ({}),
        addBatchObservableCallback: () => undefined,
        removeBatchObservableCallback: () => undefined,
      }),
    } as never;
    // prom-client throws like this when a label is not in the counter's labelNames.
    const stopCounting = countDbopErrors({ inc: boom });
    handle = instrumentDbop({ tracerProvider: throwingTracer, meterProvider: throwingMeter, env: {} });
    try {
      expect(await execute(async () => 42, { name: 'ok' })).toBe(42);
      await expect(
        execute(
          async () => {
            throw Object.assign(new Error('deadlock'), { code: '40P01' });
          },
          { name: 'fails', policy: retryPolicy({ maxRetries: 0 }) },
        ),
      ).rejects.toThrow('deadlock');
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      stopCounting();
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught.map(String)).toEqual([]);
  });
});

describe('instrumentDbop spans and metrics (core execute, no database)', () => {
  it('the operation span is a child of the span active at the call; attempts are its children', async () => {
    // What @opentelemetry/context-async-hooks does, in the few lines a test needs.
    const storage = new AsyncLocalStorage<Context>();
    const manager: ContextManager = {
      active: () => storage.getStore() ?? ROOT_CONTEXT,
      with: (ctx, fn, thisArg, ...args) => storage.run(ctx, () => fn.apply(thisArg, args)),
      bind: (_ctx, target) => target,
      enable: () => manager,
      disable: () => manager,
    };
    context.setGlobalContextManager(manager);
    handle = instrumentDbop({ tracerProvider, meterProvider, env: {} });
    const parent = tracerProvider.getTracer('test').startSpan('request');
    let calls = 0;
    await context.with(trace.setSpan(context.active(), parent), () =>
      execute(
        () => {
          calls += 1;
          if (calls === 1) throw Object.assign(new Error('boom'), { code: 'ECONNRESET' });
          return 'ok';
        },
        { name: 'op', policy: retryPolicy({ maxRetries: 2, initialDelayMs: 1 }) },
      ),
    );
    parent.end();
    context.disable();
    const spans = spanExporter.getFinishedSpans();
    const op = spans.find((s) => s.name === 'op')!;
    expect(op.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    const attempts = spans.filter((s) => s.name === 'op attempt');
    expect(attempts.map((s) => s.parentSpanContext?.spanId)).toEqual([
      op.spanContext().spanId,
      op.spanContext().spanId,
    ]);
    expect(attempts[0]!.attributes).toMatchObject({
      'error.type': 'Error',
      'db.response.status_code': 'ECONNRESET',
    });
    expect(attempts[0]!.status.message).not.toContain('boom');
  });

  it('the limiter: an attempt that waited for admission says how long, and the gauges show limit and queue', async () => {
    handle = instrumentDbop({ tracerProvider, meterProvider, env: {} });
    const limiter = new ConcurrencyLimiter({ maxLimit: 1, name: 'test-limiter' });
    let release!: () => void;
    const first = execute(() => new Promise<void>((r) => (release = r)), { name: 'holder', limiter });
    const second = execute(() => 'done', { name: 'waiter', limiter });
    await new Promise((r) => setTimeout(r, 30));
    expect(await gauges()).toMatchObject({
      'dbop.limiter.limit': 1,
      'dbop.limiter.in_flight': 1,
      'dbop.limiter.queued': 1,
    });
    release();
    await Promise.all([first, second]);
    const waiter = spanExporter.getFinishedSpans().find((s) => s.name === 'waiter attempt')!;
    expect(waiter.attributes['dbop.limiter.wait_ms']).toBeGreaterThanOrEqual(20);
    expect(
      spanExporter.getFinishedSpans().find((s) => s.name === 'holder attempt')?.attributes[
        'dbop.limiter.wait_ms'
      ],
    ).toBeUndefined();
    expect(await gauges()).toMatchObject({ 'dbop.limiter.in_flight': 0, 'dbop.limiter.queued': 0 });
  });
});
