import { trace } from '@opentelemetry/api';
import {
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { execute } from '../src/execute.js';
import { type DbopInstrumentation, instrumentDbop } from '../src/otel/index.js';
import type { BenchSuite } from './suite.js';

// The op succeeds at once: every case measures the instrumentation's own cost around one awaited call.
const op = async (): Promise<number> => 42;
const named = Object.freeze({ name: 'bench' });

// A production-shaped SDK whose exporters drop everything: spans batched, metrics collected once a minute.
const dropSpans: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };
const dropMetrics: PushMetricExporter = {
  export: (_metrics, done) => done({ code: 0 }),
  forceFlush: async () => {},
  shutdown: async () => {},
  selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
};
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(dropSpans)] });
const meterProvider = new MeterProvider({
  readers: [new PeriodicExportingMetricReader({ exporter: dropMetrics, exportIntervalMillis: 60_000 })],
});
const tracer = tracerProvider.getTracer('bench');

interface Case {
  readonly setup?: () => DbopInstrumentation;
  readonly call: () => Promise<unknown>;
}

const cases: Record<string, Case> = {
  'execute(op), no subscriber': { call: () => execute(op, named) },
  'execute(op), instrumentDbop spans + metrics': {
    setup: () => instrumentDbop({ tracerProvider, meterProvider, env: {} }),
    call: () => execute(op, named),
  },
  'execute(op), instrumentDbop metrics only': {
    setup: () => instrumentDbop({ meterProvider, traces: false, env: {} }),
    call: () => execute(op, named),
  },
  'execute(op), instrumentDbop, no SDK (API no-ops)': {
    setup: () =>
      instrumentDbop({ tracerProvider: trace.getTracerProvider(), traces: true, metrics: false, env: {} }),
    call: () => execute(op, named),
  },
  'hand-written span around execute(op)': {
    call: () =>
      tracer.startActiveSpan('bench', (span) =>
        execute(op, named).finally(() => {
          span.end();
        }),
      ),
  },
};

async function time(c: Case, calls: number): Promise<number> {
  const handle = c.setup?.();
  try {
    for (let i = 0; i < 2000; i++) await c.call();
    const started = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) await c.call();
    return Number(process.hrtime.bigint() - started) / calls;
  } finally {
    handle?.stop();
  }
}

/**
 * The cost of dbop/otel per operation: execute(op) with no subscriber, with instrumentDbop on a real SDK
 * (spans and metrics, metrics only, API no-ops), and a span written by hand around each call. Cases are
 * interleaved round by round, because subscribing is process-wide and cannot overlap.
 */
export const suite: BenchSuite = {
  name: 'execute() with dbop/otel on and off, op succeeds at once',
  cases: {},
  async run(flags) {
    const rounds = Number(
      flags.find((f) => f.startsWith('--rounds='))?.slice(9) ?? process.env.BENCH_ROUNDS ?? 7,
    );
    const calls = Number(flags.find((f) => f.startsWith('--calls='))?.slice(8) ?? 20_000);
    const samples = new Map<string, number[]>(Object.keys(cases).map((name) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const [name, c] of Object.entries(cases)) samples.get(name)!.push(await time(c, calls));
    }
    console.log(
      `\n## ${this.name} (${calls} calls per round, ${rounds} rounds, median and min-max of rounds)\n`,
    );
    const base = median(samples.get('execute(op), no subscriber')!);
    console.log('| case | ns/call (median) | min-max of rounds | overhead vs no subscriber (ns) |');
    console.log('|---|---:|---:|---:|');
    for (const [name, values] of samples) {
      const sorted = [...values].sort((a, b) => a - b);
      const m = median(sorted);
      console.log(`| ${name} | ${fmt(m)} | ${fmt(sorted[0]!)}-${fmt(sorted.at(-1)!)} | ${fmt(m - base)} |`);
    }
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
  },
};

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function fmt(ns: number): string {
  return Math.round(ns).toLocaleString('en-US');
}
