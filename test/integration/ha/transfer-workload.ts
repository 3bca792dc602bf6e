import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { isAmbiguousCommitError } from '../../../src/core/errors.js';
import type { Database } from '../../../src/database/database.js';

export const accounts = 20;
const opening = 1000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What the client saw: each transfer's outcome, with the time it was acknowledged or refused. */
export interface WorkloadOutcome {
  readonly committed: { readonly id: string; readonly at: number }[];
  readonly ambiguous: string[];
  readonly failed: { readonly id: string; readonly at: number; readonly error: unknown }[];
}

/** The tables of the workload: accounts and a ledger row per transfer, stamped by the server that took it. */
export async function createLedger(db: Database): Promise<void> {
  await db.query('DROP TABLE IF EXISTS account, ledger');
  await db.query('CREATE TABLE account (id int PRIMARY KEY, balance int NOT NULL)');
  // No key on `transfer`: a transfer applied twice shows as two rows. `port` and `at` say which server
  // committed it and when (loopback: one clock), so a write taken by a demoted primary after the new one
  // took over shows up too.
  await db.query(
    `CREATE TABLE ledger (seq bigserial PRIMARY KEY, transfer text NOT NULL, src int NOT NULL, dst int NOT NULL,
       port int NOT NULL DEFAULT inet_server_port(), at timestamptz NOT NULL DEFAULT clock_timestamp())`,
  );
  await db.query(`INSERT INTO account SELECT g, ${opening} FROM generate_series(1, ${accounts}) g`);
}

/**
 * `workers` loops of transfers through `db` (createDatabase's defaults) while `fault` runs; they keep
 * going until `untilAfter` more transfers were acknowledged after the fault resolved (the workload resumes
 * by itself, with the same Database), or `resumeTimeoutMs` passed.
 */
export async function transfersDuring(
  db: Database,
  fault: () => Promise<void>,
  {
    workers = 4,
    warmupMs = 1000,
    untilAfter = 50,
    resumeTimeoutMs = 60_000,
  }: { workers?: number; warmupMs?: number; untilAfter?: number; resumeTimeoutMs?: number } = {},
): Promise<WorkloadOutcome & { readonly faultEndedAt: number; readonly resumed: number }> {
  const outcome: WorkloadOutcome = { committed: [], ambiguous: [], failed: [] };
  let stopping = false;
  let faultEndedAt = Number.POSITIVE_INFINITY;
  const resumed = (): number => outcome.committed.filter((c) => c.at > faultEndedAt).length;
  const worker = async (): Promise<void> => {
    while (!stopping) {
      const id = randomUUID();
      const src = 1 + Math.floor(Math.random() * accounts);
      const dst = 1 + ((src + Math.floor(Math.random() * (accounts - 1))) % accounts);
      try {
        await db.transaction(async (conn) => {
          await conn.execute('SELECT id FROM account WHERE id IN (:a, :b) ORDER BY id FOR UPDATE', {
            a: src,
            b: dst,
          });
          await conn.execute('UPDATE account SET balance = balance - 1 WHERE id = :id', { id: src });
          await conn.execute('UPDATE account SET balance = balance + 1 WHERE id = :id', { id: dst });
          await conn.execute('INSERT INTO ledger (transfer, src, dst) VALUES (:id, :src, :dst)', {
            id,
            src,
            dst,
          });
        });
        outcome.committed.push({ id, at: Date.now() });
      } catch (error) {
        if (isAmbiguousCommitError(error)) outcome.ambiguous.push(id);
        else outcome.failed.push({ id, at: Date.now(), error });
      }
      await sleep(5);
    }
  };
  const running = Promise.all(Array.from({ length: workers }, worker));
  try {
    await sleep(warmupMs);
    await fault();
    faultEndedAt = Date.now();
    const until = Date.now() + resumeTimeoutMs;
    while (resumed() < untilAfter && Date.now() < until) await sleep(100);
  } finally {
    stopping = true;
    await running;
  }
  return { ...outcome, faultEndedAt, resumed: resumed() };
}

/** The ledger audit, read straight from the current leader (not through a proxy). */
export interface LedgerAudit {
  /** Acknowledged transfers missing from the ledger. */
  readonly lost: string[];
  /** Transfers with more than one ledger row. */
  readonly doubled: string[];
  /** Transfers dbop reported as failed (not ambiguous) that are in the ledger all the same. */
  readonly failedButApplied: string[];
  /** Transfers dbop called ambiguous that did commit (the rest did not). */
  readonly ambiguousApplied: number;
  /** Ledger rows whose transfer the client never heard of. */
  readonly unknown: number;
  /** Sum of balances minus the opening total: 0 when every transfer moved money both ways. */
  readonly balanceDrift: number;
  /** Accounts whose balance differs from what the ledger says. */
  readonly accountsOff: number;
  /** Rows committed per server port, with the first and last commit time. */
  readonly byServer: {
    readonly port: number;
    readonly rows: number;
    readonly first: Date;
    readonly last: Date;
  }[];
}

export async function auditLedger(leaderUrl: string, outcome: WorkloadOutcome): Promise<LedgerAudit> {
  const client = new pg.Client({ connectionString: leaderUrl });
  await client.connect();
  try {
    const rows = (
      await client.query<{ transfer: string; n: string }>(
        'SELECT transfer, count(*) AS n FROM ledger GROUP BY transfer',
      )
    ).rows;
    const written = new Map(rows.map((r) => [r.transfer, Number(r.n)]));
    const known = new Set([
      ...outcome.committed.map((c) => c.id),
      ...outcome.ambiguous,
      ...outcome.failed.map((f) => f.id),
    ]);
    const total = (await client.query<{ s: string }>('SELECT sum(balance) AS s FROM account')).rows[0]!.s;
    const off = (
      await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM account a
           WHERE a.balance <> ${opening}
             - (SELECT count(*) FROM ledger l WHERE l.src = a.id)
             + (SELECT count(*) FROM ledger l WHERE l.dst = a.id)`,
      )
    ).rows[0]!.n;
    const byServer = (
      await client.query<{ port: number; rows: string; first: Date; last: Date }>(
        'SELECT port, count(*) AS rows, min(at) AS first, max(at) AS last FROM ledger GROUP BY port ORDER BY min(at)',
      )
    ).rows.map((r) => ({ port: r.port, rows: Number(r.rows), first: r.first, last: r.last }));
    return {
      lost: outcome.committed.filter((c) => !written.has(c.id)).map((c) => c.id),
      doubled: [...written].filter(([, n]) => n > 1).map(([id]) => id),
      failedButApplied: outcome.failed.filter((f) => written.has(f.id)).map((f) => f.id),
      ambiguousApplied: outcome.ambiguous.filter((id) => written.has(id)).length,
      unknown: [...written.keys()].filter((id) => !known.has(id)).length,
      balanceDrift: Number(total) - accounts * opening,
      accountsOff: Number(off),
      byServer,
    };
  } finally {
    await client.end();
  }
}

/**
 * True when no server took a write after another server's first one: each server's commits lie in one
 * stretch of time, and the stretches do not overlap (a demoted primary took nothing once the new one did).
 */
export function serversInSequence(byServer: LedgerAudit['byServer']): boolean {
  return byServer.every((s, i) => i === 0 || byServer[i - 1]!.last.getTime() < s.first.getTime());
}

/** What the client saw during the gap, for the test's log: errors by kind, and the longest wait between acknowledgements. */
export function describeGap(outcome: WorkloadOutcome): {
  longestGapMs: number;
  errors: Record<string, number>;
} {
  const times = outcome.committed.map((c) => c.at).sort((a, b) => a - b);
  let longestGapMs = 0;
  for (let i = 1; i < times.length; i++) longestGapMs = Math.max(longestGapMs, times[i]! - times[i - 1]!);
  const errors: Record<string, number> = {};
  for (const { error } of outcome.failed) {
    const e = error as { name?: string; code?: string; message?: string };
    const key = `${e.name ?? 'Error'} ${e.code ?? ''} ${String(e.message ?? error).slice(0, 80)}`;
    errors[key] = (errors[key] ?? 0) + 1;
  }
  if (outcome.ambiguous.length > 0) errors.AmbiguousCommitError = outcome.ambiguous.length;
  return { longestGapMs, errors };
}
