/**
 * Draws docs/observability-trace.svg: a real trace of two transfers that deadlock on PostgreSQL, recorded by
 * the OpenTelemetry SDK's in-memory exporter through dbop/otel, rendered as a timeline.
 * Run: npx tsx scripts/trace-svg.ts [postgres-url]   (default postgres://postgres@127.0.0.1:5432/test)
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import pg from 'pg';
import { instrumentDbop } from '../src/otel/index.js';
import { DbOpRunner } from '../src/runner/index.js';
import { pgPoolSource } from '../src/sessions/pg/index.js';

const url = process.argv[2] ?? 'postgres://postgres@127.0.0.1:5432/test';
const out = fileURLToPath(new URL('../docs/observability-trace.svg', import.meta.url));
const table = `dbop_trace_svg_${process.pid}`;

async function record(): Promise<ReadableSpan[]> {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const otel = instrumentDbop({
    tracerProvider,
    metrics: false,
    attributes: { 'db.system.name': 'postgresql' },
    env: {},
  });
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  try {
    await pool.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v INT NOT NULL)`);
    await pool.query(`INSERT INTO ${table} VALUES (1, 0), (2, 0)`);
    const runner = new DbOpRunner({ maxRetries: 3, initialDelayMs: 20, maxDelayMs: 50 });
    let arrived = 0;
    let meet!: () => void;
    const both = new Promise<void>((resolve) => {
      meet = resolve;
    });
    const transfer = (from: number, to: number) =>
      runner.transaction(
        pgPoolSource(pool),
        async (s, attempt) => {
          await s.query(`UPDATE ${table} SET v = v - 1 WHERE id = $1`, [from]);
          if (attempt.attempt === 1) {
            if (++arrived === 2) meet();
            await both;
          }
          await s.query(`UPDATE ${table} SET v = v + 1 WHERE id = $1`, [to]);
        },
        { name: `transfer ${from}->${to}` },
      );
    await Promise.all([transfer(1, 2), transfer(2, 1)]);
  } finally {
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.end();
    otel.stop();
  }
  return exporter.getFinishedSpans();
}

const ms = (t: readonly [number, number]): number => t[0] * 1e3 + t[1] / 1e6;
const xml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One row per span, operations followed by their attempts; bars on a shared millisecond axis. */
export function renderSvg(spans: readonly ReadableSpan[]): string {
  const roots = spans
    .filter((s) => s.parentSpanContext === undefined)
    .sort((a, b) => ms(a.startTime) - ms(b.startTime));
  const rows: { span: ReadableSpan; depth: number }[] = [];
  for (const root of roots) {
    rows.push({ span: root, depth: 0 });
    const children = spans.filter((s) => s.parentSpanContext?.spanId === root.spanContext().spanId);
    for (const child of children.sort((a, b) => ms(a.startTime) - ms(b.startTime)))
      rows.push({ span: child, depth: 1 });
  }
  const t0 = Math.min(...rows.map((r) => ms(r.span.startTime)));
  const t1 = Math.max(...rows.map((r) => ms(r.span.endTime)));
  const [labelWidth, barWidth, rowHeight, top] = [250, 560, 34, 40];
  const x = (t: number): number => labelWidth + ((t - t0) / (t1 - t0)) * barWidth;
  const parts: string[] = [];
  const height = top + rows.length * rowHeight + 30;
  const width = labelWidth + barWidth + 20;
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    '<title>A dbop trace: operation spans and their attempt spans on a millisecond axis</title>',
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" font-weight="bold">Two transfers deadlock on PostgreSQL (40P01); the victim's transaction is retried</text>`,
  );
  for (let tick = 0; tick <= 4; tick++) {
    const t = t0 + ((t1 - t0) * tick) / 4;
    parts.push(
      `<line x1="${x(t)}" y1="${top - 8}" x2="${x(t)}" y2="${height - 25}" stroke="#ddd"/>`,
      `<text x="${x(t)}" y="${height - 10}" text-anchor="middle" fill="#666">${(t - t0).toFixed(0)} ms</text>`,
    );
  }
  rows.forEach(({ span, depth }, i) => {
    const y = top + i * rowHeight;
    const failed = span.status.code === 2;
    const a = span.attributes;
    const detail =
      depth === 0
        ? `attempts=${a['dbop.attempts']} outcome=${a['dbop.outcome']}`
        : failed
          ? `${a['dbop.error.kind']} ${a['db.response.status_code']} scope=${a['dbop.retry.scope']} retried=${a['dbop.retried']}`
          : 'ok';
    const name = depth === 0 ? span.name : `attempt ${a['dbop.attempt']}`;
    parts.push(
      `<text x="${10 + depth * 16}" y="${y + 13}"${depth === 0 ? ' font-weight="bold"' : ''}>${xml(name)}</text>`,
      `<text x="${10 + depth * 16}" y="${y + 27}" fill="#555" font-size="10">${xml(detail)}</text>`,
      `<rect x="${x(ms(span.startTime))}" y="${y + 4}" width="${Math.max(2, x(ms(span.endTime)) - x(ms(span.startTime)))}" height="18" rx="3" fill="${failed ? '#e45756' : depth === 0 ? '#4c78a8' : '#72b7b2'}"/>`,
    );
    for (const event of span.events.filter((e) => e.name === 'dbop.retry')) {
      const ex = x(ms(event.time));
      parts.push(
        `<path d="M${ex} ${y + 2} l5 -6 h-10 z" fill="#f58518"><title>retry after ${event.attributes?.['dbop.retry.delay_ms']} ms</title></path>`,
      );
    }
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

const spans = await record();
await writeFile(out, renderSvg(spans));
console.log(`${out}: ${spans.length} spans`);
for (const s of spans)
  console.log(
    JSON.stringify({
      name: s.name,
      parent: s.parentSpanContext?.spanId,
      attributes: s.attributes,
      status: s.status,
    }),
  );
