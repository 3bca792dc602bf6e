import { randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { channelNames, type RetryMessage } from '../../core/diagnostics.js';
import { createDatabase } from '../../database/create-database.js';
import type { Database } from '../../database/database.js';
import { classify } from '../../dialects/classify.js';
import { bankTables, createBank, dropBank } from './bank-schema.js';
import { checkInvariant } from './check-invariant.js';
import type { DemoReport } from './demo-report.js';
import { latencyPercentile } from './latency-percentile.js';
import type { ProgressSnapshot } from './progress-line.js';
import { applyTransfer, type Transfer } from './transfer.js';

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

/** The retry policy of the demo's transfers: enough attempts to ride out heavy contention, short waits. */
export const demoPolicy: {
  readonly maxRetries: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
} = Object.freeze({ maxRetries: 50, initialDelayMs: 2, maxDelayMs: 50 });

/** Runs the bank-transfer workload and audits the books. */
export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const tempDir = options.url === undefined ? mkdtempSync(join(tmpdir(), 'dbop-demo-')) : undefined;
  const url = tempDir === undefined ? options.url! : `sqlite:${join(tempDir, 'bank.db')}`;
  const db = await createDatabase({ url, max: options.workers, ...demoPolicy });
  const tables = bankTables(options.prefix ?? `dbop_demo_${randomBytes(4).toString('hex')}`);
  const accounts = options.accounts ?? (db.backend === 'postgres' ? 50 : 10);
  try {
    await createBank(db, tables, accounts);
    const report = await workload(db, { ...options, accounts }, tables);
    const invariant = await checkInvariant(db, tables, accounts, report.committedIds);
    return {
      ...report.report,
      target: tempDir === undefined ? db.url : join(tempDir, 'bank.db'),
      invariant,
      ...(options.retry ? { policy: { ...demoPolicy, jitter: 'full' } } : {}),
      notes: contentionNotes(db.backend),
    };
  } finally {
    if (tempDir === undefined) await dropBank(db, tables).catch(() => undefined);
    await db.close();
    if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
  }
}

async function workload(
  db: Database,
  options: DemoOptions & { readonly accounts: number },
  tables: ReturnType<typeof bankTables>,
): Promise<{
  report: Omit<DemoReport, 'invariant' | 'target' | 'notes' | 'policy'>;
  committedIds: Set<string>;
}> {
  const backend = db.backend;
  const name = `dbop-demo-transfer-${randomBytes(4).toString('hex')}`;
  const retriesByKind: Record<string, number> = {};
  const failuresByReason: Record<string, number> = {};
  const committedIds = new Set<string>();
  const latencies: number[] = [];
  let failed = 0;
  const onRetry = (message: unknown): void => {
    const retry = message as RetryMessage;
    if (retry.name !== name) return;
    const kind = retry.classification?.kind ?? 'unknown';
    retriesByKind[kind] = (retriesByKind[kind] ?? 0) + 1;
  };
  const [thinkMin, thinkMax] = options.thinkMs ?? [1, 3];
  const think = (): Promise<void> =>
    new Promise((resolve) => setTimeout(resolve, thinkMin + Math.random() * (thinkMax - thinkMin)));
  const isolationLevel = backend === 'postgres' ? ('serializable' as const) : undefined;
  const started = performance.now();
  const endAt = started + options.durationS * 1000;
  const elapsedS = (): number => (performance.now() - started) / 1000;
  const snapshot = (): ProgressSnapshot => ({
    elapsedS: elapsedS(),
    committed: committedIds.size,
    retriesByKind: { ...retriesByKind },
    failed,
  });

  const worker = async (index: number): Promise<void> => {
    for (let sequence = 1; performance.now() < endAt && options.signal?.aborted !== true; sequence += 1) {
      const transfer = randomTransfer(`w${index}-${sequence}`, options.accounts);
      const body = (connection: Parameters<typeof applyTransfer>[0]) =>
        applyTransfer(connection, tables, backend, transfer, think);
      const begin = performance.now();
      try {
        if (options.retry) {
          await db.transaction(body, { name, ...(isolationLevel === undefined ? {} : { isolationLevel }) });
        } else {
          await db.acquire(body, isolationLevel === undefined ? {} : { isolationLevel });
        }
        committedIds.add(transfer.id);
        latencies.push(performance.now() - begin);
      } catch (error) {
        failed += 1;
        const classification = classify(error, { dialect: backend });
        const reason = `${classification.kind} ${classification.code ?? 'no code'}`;
        failuresByReason[reason] = (failuresByReason[reason] ?? 0) + 1;
      }
      // A pause between transfers, as between a client's requests. It also lets timers run: better-sqlite3
      // fails synchronously, and a worker failing in a tight loop would starve the one holding the lock.
      await think();
    }
  };

  subscribe(channelNames.retry, onRetry);
  const ticker = setInterval(() => options.onProgress?.(snapshot()), 200);
  try {
    await Promise.all(Array.from({ length: options.workers }, (_, i) => worker(i + 1)));
  } finally {
    clearInterval(ticker);
    unsubscribe(channelNames.retry, onRetry);
  }
  options.onProgress?.(snapshot());
  const retries = Object.values(retriesByKind).reduce((sum, count) => sum + count, 0);
  return {
    committedIds,
    report: {
      backend,
      mode: options.retry ? 'retry' : 'no-retry',
      workers: options.workers,
      accounts: options.accounts,
      durationS: options.durationS,
      elapsedS: elapsedS(),
      committed: committedIds.size,
      attempts: committedIds.size + failed + retries,
      retriesByKind,
      failed,
      failuresByReason,
      latencyMs: { p50: percentileOrNull(latencies, 50), p99: percentileOrNull(latencies, 99) },
    },
  };
}

function contentionNotes(backend: string): string[] {
  if (backend === 'sqlite') {
    return [
      'Workers yield between their two row reads (application think time) while holding BEGIN IMMEDIATE,',
      "so SQLite's single writer lock is really contended: SQLITE_BUSY comes from SQLite itself, with",
      "busy_timeout 0, and the waiting is dbop's async backoff instead of a blocked event loop.",
    ];
  }
  if (backend === 'postgres') {
    return [
      'SERIALIZABLE transactions lock both rows FOR UPDATE in transfer order: 40001 and 40P01 come from the server.',
    ];
  }
  return ['Transactions lock both rows FOR UPDATE in transfer order: InnoDB picks deadlock victims (1213).'];
}

function randomTransfer(id: string, accounts: number): Transfer {
  const from = 1 + Math.floor(Math.random() * accounts);
  let to = 1 + Math.floor(Math.random() * (accounts - 1));
  if (to >= from) to += 1;
  return { id, from, to, amount: 1 + Math.floor(Math.random() * 100) };
}

function percentileOrNull(samples: readonly number[], percentile: number): number | null {
  return samples.length === 0 ? null : Math.round(latencyPercentile(samples, percentile) * 10) / 10;
}
