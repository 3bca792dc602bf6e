import { setMaxListeners } from 'node:events';
import { classify, createDatabase, type Database, isDbopError } from '../../src/index.js';
import { mariadbTarget, postgresTarget, type SoakTarget } from './soak-targets.js';

/**
 * The project's chaos soak: a bank-transfer workload (32 workers) on private Postgres and MariaDB servers
 * while the servers misbehave, one phase per fault, and an audit after each phase. Bounded in time
 * (`seconds` for the whole run, split over the phases) and in count (`maxTransfers` per phase).
 */
export interface SoakOptions {
  readonly seconds: number;
  readonly workers?: number;
  readonly accounts?: number;
  readonly maxTransfers?: number;
  readonly backends?: readonly ('postgres' | 'mariadb')[];
  readonly seed?: number;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

export const phases = ['kill-storm', 'idle-kill', 'outage', 'pool-exhausted'] as const;
export type Phase = (typeof phases)[number];

export interface PhaseAudit {
  /** Sum of balances equals the starting total. */
  readonly totalUnchanged: boolean;
  /** Every transfer the workload was told committed is in the ledger (exactly once: the ledger's key). */
  readonly acknowledgedInLedger: boolean;
  /** No transfer reported failed is in the ledger. */
  readonly failedNotCommitted: boolean;
  /** Each balance equals its start plus the ledger's transfers: no half-applied transfer. */
  readonly ledgerMatchesBalances: boolean;
  /** Connections of the workload's role left on the server after the Database closed. */
  readonly connectionsLeft: number;
  readonly unhandledRejections: number;
}

export interface PhaseReport {
  readonly backend: 'postgres' | 'mariadb';
  readonly phase: Phase;
  readonly seconds: number;
  readonly committed: number;
  readonly failed: number;
  /** Reported AmbiguousCommitError (neither acknowledged nor failed); how many of them did commit. */
  readonly ambiguous: number;
  readonly ambiguousCommitted: number;
  readonly failedByKind: Readonly<Record<string, number>>;
  /** Errors the Database met (retried or not), by kind: db.stats().errors. */
  readonly errorsByKind: Readonly<Record<string, number>>;
  /** Faults applied: connections killed, outages, pool hogs. */
  readonly faults: number;
  readonly audit: PhaseAudit;
  readonly ok: boolean;
}

export interface SoakSummary {
  readonly seconds: number;
  readonly workers: number;
  readonly phases: readonly PhaseReport[];
  readonly ok: boolean;
}

const startBalance = 1000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the soak and returns its summary; never throws for a failed audit (ok: false says so). */
export async function runSoak(options: SoakOptions): Promise<SoakSummary> {
  const backends = options.backends ?? ['postgres', 'mariadb'];
  const workers = options.workers ?? 32;
  const phaseMs = Math.max(3000, (options.seconds * 1000) / (backends.length * phases.length));
  const log = options.log ?? (() => undefined);
  const reports: PhaseReport[] = [];
  let unhandled = 0;
  const onUnhandled = (): void => {
    unhandled += 1;
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    for (const backend of backends) {
      log(`${backend}: starting a private server`);
      const target = backend === 'postgres' ? await postgresTarget() : await mariadbTarget();
      try {
        await setUp(target, options.accounts ?? 50);
        for (const phase of phases) {
          const before = unhandled;
          const report = await runPhase(target, phase, {
            phaseMs,
            workers,
            accounts: options.accounts ?? 50,
            maxTransfers: options.maxTransfers ?? 1_000_000,
            seed: options.seed ?? 1,
            unhandled: () => unhandled - before,
          });
          reports.push(report);
          log(`${backend} ${phase}: ${report.committed} committed, ${report.failed} failed, ok=${report.ok}`);
        }
      } finally {
        await target.destroy();
      }
    }
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  return {
    seconds: options.seconds,
    workers,
    phases: reports,
    ok: reports.every((r) => r.ok),
  };
}

async function setUp(target: SoakTarget, accounts: number): Promise<void> {
  const db = await createDatabase(target.url);
  try {
    await db.query('CREATE TABLE soak_account (id INT PRIMARY KEY, balance BIGINT NOT NULL)');
    await db.query(
      'CREATE TABLE soak_ledger (id VARCHAR(64) PRIMARY KEY, src INT NOT NULL, dst INT NOT NULL, amount INT NOT NULL)',
    );
    for (let id = 1; id <= accounts; id++) {
      await db.query('INSERT INTO soak_account (id, balance) VALUES (:id, :balance)', {
        id,
        balance: startBalance,
      });
    }
  } finally {
    await db.close();
  }
}

interface PhaseSettings {
  readonly phaseMs: number;
  readonly workers: number;
  readonly accounts: number;
  readonly maxTransfers: number;
  readonly seed: number;
  readonly unhandled: () => number;
}

async function runPhase(target: SoakTarget, phase: Phase, settings: PhaseSettings): Promise<PhaseReport> {
  const started = Date.now();
  const pooled = phase === 'pool-exhausted';
  const db = await createDatabase({
    url: target.url,
    max: pooled ? 4 : 16,
    ...(pooled ? { connectTimeoutMs: 2000 } : {}),
    // MariaDB cannot tell a lost COMMIT's outcome without its marker rows.
    ...(target.name === 'mariadb' ? { verifyCommits: true } : {}),
  });
  const acknowledged: string[] = [];
  const failed: string[] = [];
  const ambiguous: string[] = [];
  const failedByKind: Record<string, number> = {};
  const deadline = started + settings.phaseMs;
  // The hard stop: whatever happens, no transfer outlives the phase by more than a minute.
  const hardStop = new AbortController();
  // One signal for every transfer of the phase: each attempt listens on it.
  setMaxListeners(0, hardStop.signal);
  const hardTimer = setTimeout(
    () => hardStop.abort(new Error('soak: phase hard limit')),
    settings.phaseMs + 60_000,
  );
  let random = (settings.seed + phases.indexOf(phase) * 7919) >>> 0;
  const next = (): number => {
    random = (random + 0x6d2b79f5) >>> 0;
    let t = random;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let issued = 0;
  const worker = async (w: number): Promise<void> => {
    for (let n = 0; Date.now() < deadline && issued < settings.maxTransfers; n++) {
      issued += 1;
      const src = 1 + Math.floor(next() * settings.accounts);
      const dst = 1 + ((src + Math.floor(next() * (settings.accounts - 1))) % settings.accounts);
      const amount = 1 + Math.floor(next() * 10);
      const id = `${phase}-${w}-${n}`;
      try {
        await transfer(db, id, src, dst, amount, hardStop.signal);
        acknowledged.push(id);
      } catch (error) {
        if (isDbopError(error, 'DBOP_AMBIGUOUS_COMMIT')) {
          ambiguous.push(id);
        } else {
          failed.push(id);
          const kind = classify(error).kind;
          failedByKind[kind] = (failedByKind[kind] ?? 0) + 1;
          // A refused or exhausted pool fails fast: do not spin on it.
          await sleep(20);
        }
      }
    }
  };
  const faulting = inject(target, phase, db, deadline);
  await Promise.all(Array.from({ length: settings.workers }, (_, w) => worker(w)));
  const faults = await faulting;
  clearTimeout(hardTimer);
  const errorsByKind = Object.fromEntries(
    Object.entries(db.stats().errors.byKind ?? {}).filter(([, n]) => (n as number) > 0),
  ) as Record<string, number>;
  await db.close();
  const audit = await auditPhase(target, acknowledged, failed, settings);
  const ledger = await ledgerIds(target, phase);
  const ambiguousCommitted = ambiguous.filter((id) => ledger.has(id)).length;
  const ok =
    audit.totalUnchanged &&
    audit.acknowledgedInLedger &&
    audit.failedNotCommitted &&
    audit.ledgerMatchesBalances &&
    audit.connectionsLeft === 0 &&
    audit.unhandledRejections === 0;
  return {
    backend: target.name,
    phase,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    committed: acknowledged.length,
    failed: failed.length,
    ambiguous: ambiguous.length,
    ambiguousCommitted,
    failedByKind,
    errorsByKind,
    faults,
    audit,
    ok,
  };
}

function transfer(db: Database, id: string, src: number, dst: number, amount: number, signal: AbortSignal) {
  // Rows locked in id order: contention and lock waits, few deadlocks (the phases bring the faults).
  const [first, second] = src < dst ? [src, dst] : [dst, src];
  return db.transaction(
    async (conn) => {
      for (const account of [first, second]) {
        const delta = account === src ? -amount : amount;
        await conn.execute('UPDATE soak_account SET balance = balance + :delta WHERE id = :id', {
          delta,
          id: account,
        });
      }
      await conn.execute('INSERT INTO soak_ledger (id, src, dst, amount) VALUES (:id, :src, :dst, :amount)', {
        id,
        src,
        dst,
        amount,
      });
    },
    { name: 'transfer', signal },
  );
}

/** Applies the phase's fault until the deadline; how many times it struck. */
async function inject(target: SoakTarget, phase: Phase, db: Database, deadline: number): Promise<number> {
  let faults = 0;
  const until = async (everyMs: number, strike: () => Promise<number>): Promise<void> => {
    while (Date.now() < deadline) {
      faults += await strike().catch(() => 0);
      await sleep(everyMs);
    }
  };
  switch (phase) {
    case 'kill-storm':
      await until(200, () => target.kill(false));
      break;
    case 'idle-kill':
      await until(200, () => target.kill(true));
      break;
    case 'outage': {
      await sleep(Math.min(1000, (deadline - Date.now()) / 4));
      await target.outage(3000);
      faults = 1;
      break;
    }
    case 'pool-exhausted': {
      const sleepSql = target.name === 'postgres' ? 'SELECT pg_sleep(1.5)' : 'SELECT SLEEP(1.5)';
      await until(2000, async () => {
        // Every pooled connection held by a long statement: the workload waits for the pool, or times out.
        await Promise.allSettled(
          Array.from({ length: 4 }, () => db.acquire((conn) => conn.execute(sleepSql))),
        );
        return 1;
      });
      break;
    }
  }
  return faults;
}

async function ledgerIds(target: SoakTarget, phase: Phase): Promise<Set<string>> {
  const rows = await target.admin(`SELECT id FROM soak_ledger WHERE id LIKE '${phase}-%'`);
  return new Set(rows.map((row) => String(row.id)));
}

async function auditPhase(
  target: SoakTarget,
  acknowledged: readonly string[],
  failed: readonly string[],
  settings: PhaseSettings,
): Promise<PhaseAudit> {
  const ledger = new Set((await target.admin('SELECT id FROM soak_ledger')).map((row) => String(row.id)));
  const [total] = await target.admin('SELECT sum(balance) AS total, count(*) AS n FROM soak_account');
  const mismatched = await target.admin(`SELECT a.id FROM soak_account a WHERE a.balance <> ${startBalance}
      + COALESCE((SELECT sum(amount) FROM soak_ledger WHERE dst = a.id), 0)
      - COALESCE((SELECT sum(amount) FROM soak_ledger WHERE src = a.id), 0)`);
  let left = await target.ours();
  for (let i = 0; i < 50 && left > 0; i++) {
    await sleep(200);
    left = await target.ours();
  }
  return {
    totalUnchanged: Number(total?.total) === settings.accounts * startBalance,
    acknowledgedInLedger: acknowledged.every((id) => ledger.has(id)),
    failedNotCommitted: failed.every((id) => !ledger.has(id)),
    ledgerMatchesBalances: mismatched.length === 0,
    connectionsLeft: left,
    unhandledRejections: settings.unhandled(),
  };
}

/** The summary as a short markdown table. */
export function soakTable(summary: SoakSummary): string {
  const yes = (ok: boolean): string => (ok ? 'yes' : '**NO**');
  const lines = [
    '| backend | phase | s | committed | failed (kinds) | ambiguous | errors met by kind | faults | total kept | acked in ledger once | failed not committed | ledger = balances | conns left | unhandled |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of summary.phases) {
    const kinds = (record: Readonly<Record<string, number>>): string =>
      Object.entries(record)
        .map(([kind, n]) => `${kind} ${n}`)
        .join(', ') || '-';
    lines.push(
      `| ${r.backend} | ${r.phase} | ${r.seconds} | ${r.committed} | ${r.failed}${r.failed > 0 ? ` (${kinds(r.failedByKind)})` : ''} | ${r.ambiguous}${r.ambiguous > 0 ? ` (${r.ambiguousCommitted} committed)` : ''} | ${kinds(r.errorsByKind)} | ${r.faults} | ${yes(r.audit.totalUnchanged)} | ${yes(r.audit.acknowledgedInLedger)} | ${yes(r.audit.failedNotCommitted)} | ${yes(r.audit.ledgerMatchesBalances)} | ${r.audit.connectionsLeft} | ${r.audit.unhandledRejections} |`,
    );
  }
  return lines.join('\n');
}
