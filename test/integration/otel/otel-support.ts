import type { Attributes } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { type DbopInstrumentation, instrumentDbop } from '../../../src/otel/index.js';

/** A point of a metric as the SDK exported it: its name, attributes and value (sum or histogram count). */
export interface Point {
  readonly name: string;
  readonly unit: string;
  readonly attributes: Attributes;
  readonly value: number;
}

/** The real OpenTelemetry SDK with in-memory exporters, and dbop instrumented onto it. */
export function otelHarness(attributes: Attributes = {}): {
  readonly instrumentation: DbopInstrumentation;
  spans(): ReadableSpan[];
  points(): Promise<Point[]>;
  stop(): Promise<void>;
} {
  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({
    exporter: metricExporter,
    exportIntervalMillis: 3_600_000,
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const instrumentation = instrumentDbop({ tracerProvider, meterProvider, attributes, env: {} });
  return {
    instrumentation,
    spans: () => spanExporter.getFinishedSpans(),
    async points() {
      metricExporter.reset();
      await reader.forceFlush();
      const out: Point[] = [];
      for (const resource of metricExporter.getMetrics()) {
        for (const scope of resource.scopeMetrics) {
          for (const metric of scope.metrics) {
            for (const point of metric.dataPoints) {
              const v = point.value as number | { count: number };
              out.push({
                name: metric.descriptor.name,
                unit: metric.descriptor.unit,
                attributes: point.attributes,
                value: typeof v === 'number' ? v : v.count,
              });
            }
          }
        }
      }
      return out;
    },
    async stop() {
      instrumentation.stop();
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

/** Every attribute value, event attribute and status text of `spans`, as strings, to search for secrets. */
export function everyText(spans: readonly ReadableSpan[]): string {
  return JSON.stringify(
    spans.map((s) => [s.name, s.attributes, s.status, s.events.map((e) => [e.name, e.attributes])]),
  );
}
