/** What one demo run measured. Plain data, so `--json` can print it as is. */
export interface DemoReport {
  readonly backend: string;
  /** The redacted URL, or the temp file of the embedded SQLite run. */
  readonly target: string;
  readonly mode: 'retry' | 'no-retry';
  readonly workers: number;
  readonly accounts: number;
  readonly durationS: number;
  readonly elapsedS: number;
  readonly committed: number;
  readonly attempts: number;
  /** Retried attempts by error kind (serialization, deadlock, lock-timeout...). */
  readonly retriesByKind: Readonly<Record<string, number>>;
  readonly failed: number;
  /** Failed transfers by error kind and code, e.g. "lock-timeout SQLITE_BUSY". */
  readonly failuresByReason: Readonly<Record<string, number>>;
  /** SQLite: BEGIN IMMEDIATEs that waited for the write lock another transfer held. */
  readonly lockWaits: number;
  readonly latencyMs: { readonly p50: number | null; readonly p99: number | null };
  readonly invariant: InvariantCheck;
  /** Retry policy of the transfers (retry mode). */
  readonly policy?: {
    readonly maxRetries: number;
    readonly initialDelayMs: number;
    readonly maxDelayMs: number;
    readonly jitter: string;
  };
  /** Where the contention comes from on this backend. */
  readonly notes: readonly string[];
}

/** The bank's books after the run. */
export interface InvariantCheck {
  readonly holds: boolean;
  readonly expectedTotal: number;
  readonly actualTotal: number;
  /** Transfers the workers saw commit that are missing from the ledger. */
  readonly lost: number;
  /** Ledger rows no worker saw commit (a doubled or phantom transfer). */
  readonly unexpected: number;
  /** Accounts whose balance does not match opening balance plus ledger movements. */
  readonly mismatchedAccounts: number;
}

/** The human-readable report. */
export function formatDemoReport(report: DemoReport): string {
  const retries = Object.entries(report.retriesByKind);
  const retried = retries.reduce((sum, [, count]) => sum + count, 0);
  const failures = Object.entries(report.failuresByReason);
  const check = report.invariant;
  const lines = [
    '',
    `dbop demo: bank transfers on ${report.backend} (${report.target})`,
    `  mode          ${report.mode === 'retry' ? 'dbop retries: each transfer is a db.transaction(), retried as a whole' : 'no retry: each transfer is one BEGIN ... COMMIT through db.acquire()'}`,
    ...(report.policy === undefined
      ? []
      : [
          `  policy        up to ${report.policy.maxRetries} retries, ${report.policy.jitter} jitter, ` +
            `${report.policy.initialDelayMs}-${report.policy.maxDelayMs} ms backoff`,
        ]),
    `  workers       ${report.workers} on ${report.accounts} accounts for ${report.elapsedS.toFixed(1)} s`,
    `  committed     ${report.committed} (${rate(report.committed, report.elapsedS)}/s)`,
    `  attempts      ${report.attempts}`,
    `  retries       ${retried}${retries.length === 0 ? '' : ` (${retries.map(([kind, count]) => `${kind} ${count}`).join(', ')})`}`,
    `  failed        ${report.failed}${failures.length === 0 ? '' : ` (${failures.map(([reason, count]) => `${reason}: ${count}`).join(', ')})`}`,
    ...(report.lockWaits === 0
      ? []
      : [`  lock waits    ${report.lockWaits} (BEGIN IMMEDIATE waited for another writer's lock)`]),
    `  latency       p50 ${ms(report.latencyMs.p50)}, p99 ${ms(report.latencyMs.p99)}`,
    `  invariant     ${check.holds ? 'HOLDS' : 'BROKEN'}: total balance ${check.actualTotal} (expected ${check.expectedTotal}), ` +
      `${check.lost} lost, ${check.unexpected} unexpected, ${check.mismatchedAccounts} accounts off the ledger`,
    ...report.notes.map((note) => `  note          ${note}`),
    '',
  ];
  return lines.join('\n');
}

function rate(count: number, seconds: number): string {
  return seconds > 0 ? (count / seconds).toFixed(0) : '0';
}

function ms(value: number | null): string {
  return value === null ? 'n/a' : `${value.toFixed(1)} ms`;
}
