import { randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  channelNames,
  type LockWaitMessage,
  lockWaitChannelName,
  type RetryMessage,
} from '../../core/diagnostics.js';
import type { Database } from '../../database/database.js';
import { classify } from '../../dialects/classify.js';
import type { BankTables } from './bank-schema.js';
import type { ProgressSnapshot } from './progress-line.js';
import { applyTransfer, type Transfer } from './transfer.js';

/** What one group of workers is asked to do. Plain data: it crosses into worker threads. */
export interface WorkloadPlan {
  readonly workers: number;
  /** Prefix of this group's transfer ids, unique across groups. */
  readonly group: string;
  readonly accounts: number;
  readonly durationS: number;
  readonly retry: boolean;
  /** Application think time between the two row locks, ms: [min, max]; [0, 0] for none. */
  readonly thinkMs: readonly [number, number];
  /** Pause between one worker's transfers, ms: [min, max]. */
  readonly pauseMs: readonly [number, number];
}

/** What one group of workers measured. Plain data, like the plan. */
export interface WorkloadResult {
  readonly committedIds: readonly string[];
  readonly latencies: readonly number[];
  readonly retriesByKind: Readonly<Record<string, number>>;
  readonly failuresByReason: Readonly<Record<string, number>>;
  readonly failed: number;
  /** SQLite: BEGIN IMMEDIATEs that waited for another writer's lock (see sqliteLockWaitMs), and their ms. */
  readonly lockWaits: number;
  readonly lockWaitMs: number;
  readonly elapsedS: number;
}

/** Runs `plan.workers` workers doing transfers on `db` until the time is up or `signal` aborts. */
export async function runWorkload(
  db: Database,
  tables: BankTables,
  plan: WorkloadPlan,
  onProgress: (snapshot: ProgressSnapshot) => void,
  signal: AbortSignal | undefined,
): Promise<WorkloadResult> {
  const backend = db.backend;
  const name = `dbop-demo-transfer-${randomBytes(4).toString('hex')}`;
  const retriesByKind: Record<string, number> = {};
  const failuresByReason: Record<string, number> = {};
  const committedIds: string[] = [];
  const latencies: number[] = [];
  let failed = 0;
  let lockWaits = 0;
  let lockWaitMs = 0;
  // One Database per thread (SQLite) or per run: every lock wait of this thread is this workload's.
  const onLockWait = (message: unknown): void => {
    lockWaits += 1;
    lockWaitMs += (message as LockWaitMessage).waitedMs;
  };
  const onRetry = (message: unknown): void => {
    const retry = message as RetryMessage;
    if (retry.name !== name) return;
    const kind = retry.classification?.kind ?? 'unknown';
    retriesByKind[kind] = (retriesByKind[kind] ?? 0) + 1;
  };
  const wait =
    ([min, max]: readonly [number, number]) =>
    (): Promise<void> =>
      new Promise((resolve) => setTimeout(resolve, min + Math.random() * (max - min)));
  const think = plan.thinkMs[1] > 0 ? wait(plan.thinkMs) : undefined;
  const pause = wait(plan.pauseMs);
  const isolationLevel = backend === 'postgres' ? ('serializable' as const) : undefined;
  const started = performance.now();
  const endAt = started + plan.durationS * 1000;
  const elapsedS = (): number => (performance.now() - started) / 1000;
  const snapshot = (): ProgressSnapshot => ({
    elapsedS: elapsedS(),
    committed: committedIds.length,
    retriesByKind: { ...retriesByKind },
    failed,
  });

  const worker = async (index: number): Promise<void> => {
    for (let sequence = 1; performance.now() < endAt && signal?.aborted !== true; sequence += 1) {
      const transfer = randomTransfer(`${plan.group}w${index}-${sequence}`, plan.accounts);
      const body = (connection: Parameters<typeof applyTransfer>[0]) =>
        applyTransfer(connection, tables, backend, transfer, think);
      const begin = performance.now();
      try {
        if (plan.retry) {
          await db.transaction(body, { name, ...(isolationLevel === undefined ? {} : { isolationLevel }) });
        } else {
          await db.acquire(body, isolationLevel === undefined ? {} : { isolationLevel });
        }
        committedIds.push(transfer.id);
        latencies.push(performance.now() - begin);
      } catch (error) {
        failed += 1;
        const classification = classify(error, { dialect: backend });
        const reason = `${classification.kind} ${classification.code ?? 'no code'}`;
        failuresByReason[reason] = (failuresByReason[reason] ?? 0) + 1;
      }
      // A pause between transfers, as between a client's requests. It also lets timers run: better-sqlite3
      // fails synchronously, and a worker failing in a tight loop would starve the others.
      await pause();
    }
  };

  subscribe(channelNames.retry, onRetry);
  subscribe(lockWaitChannelName, onLockWait);
  const ticker = setInterval(() => onProgress(snapshot()), 200);
  try {
    await Promise.all(Array.from({ length: plan.workers }, (_, i) => worker(i + 1)));
  } finally {
    clearInterval(ticker);
    unsubscribe(channelNames.retry, onRetry);
    unsubscribe(lockWaitChannelName, onLockWait);
  }
  onProgress(snapshot());
  return {
    committedIds,
    latencies,
    retriesByKind,
    failuresByReason,
    failed,
    lockWaits,
    lockWaitMs,
    elapsedS: elapsedS(),
  };
}

function randomTransfer(id: string, accounts: number): Transfer {
  const from = 1 + Math.floor(Math.random() * accounts);
  let to = 1 + Math.floor(Math.random() * (accounts - 1));
  if (to >= from) to += 1;
  return { id, from, to, amount: 1 + Math.floor(Math.random() * 100) };
}
