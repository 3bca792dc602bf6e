import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createDatabase } from '../../database/create-database.js';
import { type BankTables, bankTables, createBank, dropBank } from './bank-schema.js';
import { checkInvariant } from './check-invariant.js';
import { demoPolicy } from './demo-policy.js';
import type { DemoReport } from './demo-report.js';
import { runWorkload, type WorkloadPlan, type WorkloadResult } from './demo-workload.js';
import { latencyPercentile } from './latency-percentile.js';
import type { ProgressSnapshot } from './progress-line.js';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** A postgres, mysql or mariadb URL; absent: an embedded SQLite file in a temp dir. */
  readonly url?: string;
  readonly workers: number;
  /** Default 10; 50 on Postgres, whose deadlock detector waits deadlock_timeout (1 s) per deadlock. */
  readonly accounts?: number;
  readonly durationS: number;
  readonly retry: boolean;
  /** Table name prefix; default a unique one per run. */
  readonly prefix?: string;
  /** Application think time between the two row locks, ms: [min, max]. Default [1, 3]. */
  readonly thinkMs?: readonly [number, number];
  readonly onProgress?: (snapshot: ProgressSnapshot) => void;
  /** Stops starting new transfers (Ctrl-C): the run still ends with the audit and the cleanup. */
  readonly signal?: AbortSignal;
}

/** The retry policy of the demo's transfers. */
export { demoPolicy } from './demo-policy.js';

/** Worker threads of the SQLite demo, each with its own Database on the file (like separate deployments). */
export const sqliteThreads = 4;

/** Runs the bank-transfer workload and audits the books. */
export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const tempDir = options.url === undefined ? mkdtempSync(join(tmpdir(), 'dbop-demo-')) : undefined;
  const url = tempDir === undefined ? options.url! : `sqlite:${join(tempDir, 'bank.db')}`;
  const db = await createDatabase({ url, max: options.workers, ...demoPolicy });
  const tables = bankTables(options.prefix ?? `dbop_demo_${randomBytes(4).toString('hex')}`);
  const accounts = options.accounts ?? (db.backend === 'postgres' ? 50 : 10);
  try {
    await createBank(db, tables, accounts);
    const plan: WorkloadPlan = {
      workers: options.workers,
      group: '',
      accounts,
      durationS: options.durationS,
      retry: options.retry,
      // SQLite: no pause inside the transaction; its contention is writers in other threads and, in one
      // thread, transfers interleaved at their awaits. Servers: application think time between the locks.
      thinkMs: db.backend === 'sqlite' ? [0, 0] : (options.thinkMs ?? [1, 3]),
      pauseMs: options.thinkMs ?? [1, 3],
    };
    const result =
      db.backend === 'sqlite'
        ? await inThreads(url, tables, plan, options)
        : await runWorkload(db, tables, plan, (s) => options.onProgress?.(s), options.signal);
    const invariant = await checkInvariant(db, tables, accounts, new Set(result.committedIds));
    const retries = Object.values(result.retriesByKind).reduce((sum, count) => sum + count, 0);
    return {
      backend: db.backend,
      target: tempDir === undefined ? db.url : join(tempDir, 'bank.db'),
      mode: options.retry ? 'retry' : 'no-retry',
      workers: options.workers,
      accounts,
      durationS: options.durationS,
      elapsedS: result.elapsedS,
      committed: result.committedIds.length,
      attempts: result.committedIds.length + result.failed + retries,
      retriesByKind: result.retriesByKind,
      failed: result.failed,
      failuresByReason: result.failuresByReason,
      lockWaits: result.lockWaits,
      latencyMs: {
        p50: percentileOrNull(result.latencies, 50),
        p99: percentileOrNull(result.latencies, 99),
      },
      invariant,
      ...(options.retry ? { policy: { ...demoPolicy, jitter: 'full' } } : {}),
      notes: contentionNotes(db.backend, Math.min(sqliteThreads, options.workers)),
    };
  } finally {
    if (tempDir === undefined) await dropBank(db, tables).catch(() => undefined);
    await db.close();
    if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
  }
}

/** Splits the workers over worker threads that share the SQLite file, and merges what they measured. */
async function inThreads(
  url: string,
  tables: BankTables,
  plan: WorkloadPlan,
  options: DemoOptions,
): Promise<WorkloadResult> {
  const count = Math.min(sqliteThreads, plan.workers);
  const latest: ProgressSnapshot[] = [];
  const report = (): void => options.onProgress?.(mergeProgress(latest));
  // Every thread loads and opens its Database first, then all start together: the run measures the threads
  // contending, not one thread running while the others still load.
  const started: Worker[] = [];
  let ready = 0;
  const threads = Array.from({ length: count }, (_, i) => {
    const workers = Math.floor(plan.workers / count) + (i < plan.workers % count ? 1 : 0);
    const thread = startThread({ url, tables, plan: { ...plan, workers, group: `t${i + 1}` } });
    started.push(thread);
    return new Promise<WorkloadResult>((resolve, reject) => {
      thread.on(
        'message',
        (message: { type: string; snapshot?: ProgressSnapshot; result?: WorkloadResult }) => {
          if (message.type === 'ready') {
            ready += 1;
            if (ready === count) for (const each of started) each.postMessage('go');
          } else if (message.type === 'progress') {
            latest[i] = message.snapshot!;
            report();
          } else if (message.type === 'done') resolve(message.result!);
        },
      );
      thread.on('error', reject);
      thread.on('exit', (code) => reject(new Error(`demo thread ${i + 1} exited with code ${code}`)));
      options.signal?.addEventListener('abort', () => thread.postMessage('stop'), { once: true });
    });
  });
  const results = await Promise.all(threads).catch((error: unknown) => {
    // A thread that failed never says it is ready: the others must not wait for it forever.
    for (const thread of started) thread.postMessage('stop');
    throw error;
  });
  return {
    committedIds: results.flatMap((r) => r.committedIds),
    latencies: results.flatMap((r) => r.latencies),
    retriesByKind: sumCounts(results.map((r) => r.retriesByKind)),
    failuresByReason: sumCounts(results.map((r) => r.failuresByReason)),
    failed: results.reduce((n, r) => n + r.failed, 0),
    lockWaits: results.reduce((n, r) => n + r.lockWaits, 0),
    lockWaitMs: results.reduce((n, r) => n + r.lockWaitMs, 0),
    elapsedS: Math.max(...results.map((r) => r.elapsedS)),
  };
}

/**
 * Starts demo-thread. Built, it is plain .js; run from source (npm run demo under tsx, the tests) it is
 * TypeScript, and demo-thread-loader.mjs registers tsx's loader in the thread first.
 */
function startThread(workerData: object): Worker {
  const script = new URL(`./demo-thread${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
  if (script.pathname.endsWith('.js')) return new Worker(script, { workerData });
  return new Worker(new URL('./demo-thread-loader.mjs', import.meta.url), {
    workerData: { ...workerData, script: script.href },
  });
}

function mergeProgress(snapshots: readonly ProgressSnapshot[]): ProgressSnapshot {
  const present = snapshots.filter((s) => s !== undefined);
  return {
    elapsedS: Math.max(0, ...present.map((s) => s.elapsedS)),
    committed: present.reduce((n, s) => n + s.committed, 0),
    retriesByKind: sumCounts(present.map((s) => s.retriesByKind)),
    failed: present.reduce((n, s) => n + s.failed, 0),
  };
}

function sumCounts(list: readonly Readonly<Record<string, number>>[]): Record<string, number> {
  const total: Record<string, number> = {};
  for (const counts of list) {
    for (const [key, n] of Object.entries(counts)) total[key] = (total[key] ?? 0) + n;
  }
  return total;
}

function contentionNotes(backend: string, threads: number): string[] {
  if (backend === 'sqlite') {
    return [
      `${threads} worker threads share the SQLite file, each with its own Database, as separate deployments`,
      'would: their writers really collide on the one write lock. With dbop, BEGIN IMMEDIATE waits for it',
      "without blocking (writers of one thread in turn, others' polled as SQLite's busy handler does), then",
      'SQLITE_BUSY goes to the retry policy; with --no-retry, every SQLITE_BUSY fails its transfer at once.',
    ];
  }
  if (backend === 'postgres') {
    return [
      'SERIALIZABLE transactions lock both rows FOR UPDATE in transfer order: 40001 and 40P01 come from the server.',
    ];
  }
  return ['Transactions lock both rows FOR UPDATE in transfer order: InnoDB picks deadlock victims (1213).'];
}

function percentileOrNull(samples: readonly number[], percentile: number): number | null {
  return samples.length === 0 ? null : Math.round(latencyPercentile(samples, percentile) * 10) / 10;
}
