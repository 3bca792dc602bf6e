/**
 * Benchmark runner: `npm run bench` runs every bench/*.bench.ts; `npm run bench -- execute` (or a path)
 * runs the files whose name contains one of the arguments; `--flag=value` arguments go to suites with a
 * `run` of their own (`npm run bench -- goodput --seconds=5`).
 *
 * File format: a bench file exports `suite: BenchSuite` (see bench/suite.ts):
 *   export const suite: BenchSuite = {
 *     name: 'what is measured',
 *     baseline: 'bare call',                       // optional: adds overhead and ratio columns
 *     batch: 1000,                                 // optional: calls per timed sample
 *     cases: { 'bare call': () => op(), 'dbop execute()': () => execute(op) },
 *     after: async () => ['extra line printed under the table'], // optional
 *   };
 * A file may export `suites: BenchSuite[]` instead, for several tables.
 * Cases are measured one after the other in one process (tinybench), so numbers in one table compare.
 * Env BENCH_TIME_MS sets the time per case (default 1000 ms), split over BENCH_ROUNDS interleaved rounds
 * (default 3); the table shows each case's median round. A file that fails to load or run is reported
 * and the others still run; the exit code is then 1.
 */
import { readdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Bench } from 'tinybench';
import type { BenchCase, BenchSuite } from './suite.js';

const here = dirname(fileURLToPath(import.meta.url));

async function main(): Promise<void> {
  // `--name=value` arguments are flags for the suites that take them (goodput), not file filters.
  const flags = process.argv.slice(2).filter((arg) => arg.startsWith('--'));
  const filters = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
  const files = (await readdir(here))
    .filter((file) => file.endsWith('.bench.ts'))
    .filter((file) => filters.length === 0 || filters.some((f) => file.includes(basename(f, '.bench.ts'))))
    .sort();
  if (files.length === 0) throw new Error(`No bench/*.bench.ts file matches ${filters.join(', ')}`);
  console.log(`node ${process.version}, ${process.platform} ${process.arch}`);
  for (const file of files) {
    // One broken or unrunnable file (no server, say) must not hide the others' numbers.
    try {
      const module = (await import(pathToFileURL(resolve(here, file)).href)) as {
        suite?: BenchSuite;
        suites?: readonly BenchSuite[];
      };
      // `suites`: several tables from one file, in order (bench/pool.bench.ts: in-process, then on servers).
      const suites = module.suites ?? (module.suite === undefined ? [] : [module.suite]);
      if (suites.length === 0) throw new Error('it does not export `suite`');
      for (const suite of suites) {
        if (suite.run === undefined) await runSuite(suite);
        else await suite.run(flags);
      }
    } catch (error) {
      console.error(
        `\n## ${join('bench', file)} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      process.exitCode = 1;
    }
  }
}

async function runSuite(suite: BenchSuite): Promise<void> {
  const batch = suite.batch ?? 1000;
  const time = Number(process.env.BENCH_TIME_MS ?? suite.timeMs ?? 1000);
  const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
  const names = Object.keys(suite.cases);
  // Rounds interleave the cases, so a burst of load on a shared machine hits all of them, not one.
  const means = new Map<string, number[]>(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({
      name: suite.name,
      time: time / rounds,
      warmupTime: Math.min(300, time / rounds),
    });
    for (const name of names) bench.add(name, batched(suite.cases[name]!, batch));
    await bench.run();
    for (const task of bench.tasks) {
      const result = task.result;
      if (result.state !== 'completed') throw new Error(`${suite.name} / ${task.name}: ${result.state}`);
      // Latency is per sample (a batch) in ms: convert to ns per call.
      means.get(task.name)!.push((result.latency.mean * 1e6) / batch);
    }
  }
  const rows = names.map((name) => {
    const values = [...means.get(name)!].sort((a, b) => a - b);
    return { name, median: values[Math.floor(values.length / 2)]!, min: values[0]!, max: values.at(-1)! };
  });
  const base = rows.find((row) => row.name === suite.baseline);
  console.log(`\n## ${suite.name} (${batch} calls per sample, ${rounds} rounds, ${time} ms per case)\n`);
  const header = ['case', 'ns/call (median)', 'min-max of rounds', 'calls/s'];
  if (base !== undefined) header.push(`overhead vs ${base.name} (ns)`, 'ratio');
  const table = rows.map((row) => {
    const cells = [row.name, fmt(row.median), `${fmt(row.min)}-${fmt(row.max)}`, fmt(1e9 / row.median)];
    if (base !== undefined)
      cells.push(fmt(row.median - base.median), `${(row.median / base.median).toFixed(1)}x`);
    return cells;
  });
  printTable(header, table);
  for (const line of (await suite.after?.()) ?? []) console.log(line);
}

function batched(fn: BenchCase, batch: number): () => Promise<void> {
  return async () => {
    for (let i = 0; i < batch; i++) await fn();
  };
}

function fmt(value: number): string {
  return Math.abs(value) >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1);
}

function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

await main();
