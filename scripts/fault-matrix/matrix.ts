import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  classify,
  createDatabase,
  type Database,
  type DatabaseConnection,
  isDbopError,
} from '../../src/index.js';
import { startFaultProxy } from '../../src/testing/index.js';
import { mariadbTarget, postgresTarget, type SoakTarget } from '../soak/soak-targets.js';

/**
 * The fault matrix: {Postgres, MariaDB, SQLite} x eight real faults, each provoked on a private server (real
 * deadlocks, real lock waits, pg_terminate_backend / KILL, a server restart, a TCP reset at COMMIT). Each cell
 * runs transfers of 10 between two accounts through db.transaction() and ends in success or a typed error;
 * the invariant (total unchanged, each acknowledged transfer applied once, nothing failed applied) is checked.
 */
export const matrixBackends = ['postgres', 'mariadb', 'sqlite'] as const;
export type MatrixBackend = (typeof matrixBackends)[number];
export const matrixFaults = [
  'deadlock',
  'serialization',
  'lock timeout',
  'statement timeout',
  'killed mid-transaction',
  'killed during COMMIT',
  'server restart',
  'pool exhaustion',
] as const;
export type MatrixFault = (typeof matrixFaults)[number];

export interface Cell {
  readonly backend: MatrixBackend;
  readonly fault: MatrixFault;
  /** 'success' or 'typed error'; 'n/a' where the fault cannot happen (the reason in `detail`). */
  readonly outcome: 'success' | 'typed error' | 'n/a' | 'FAILED';
  readonly detail: string;
  readonly invariant: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Place {
  readonly backend: MatrixBackend;
  readonly url: string;
  /** The server behind it, for faults that need one (absent for SQLite). */
  readonly target?: SoakTarget;
  readonly port?: number;
}

const notApplicable: Partial<Record<MatrixBackend, Partial<Record<MatrixFault, string>>>> = {
  sqlite: {
    'statement timeout': 'SQLite has no statement timeout (better-sqlite3 runs a statement to its end)',
    'killed mid-transaction': 'in-process: there is no connection to kill',
    'killed during COMMIT': 'in-process: a COMMIT cannot be lost in flight',
    'server restart': 'no server',
  },
};

/** Runs every cell; `log` gets one line per cell as it ends. */
export async function runMatrix(log: (cell: Cell) => void = () => undefined): Promise<Cell[]> {
  const cells: Cell[] = [];
  for (const backend of matrixBackends) {
    const dir = mkdtempSync(join(tmpdir(), 'dbop-matrix-'));
    const target =
      backend === 'postgres'
        ? await postgresTarget()
        : backend === 'mariadb'
          ? await mariadbTarget()
          : undefined;
    try {
      const place: Place = target
        ? { backend, url: target.url, target, port: Number(new URL(target.url).port) }
        : { backend, url: `sqlite:${join(dir, 'matrix.sqlite')}` };
      for (const fault of matrixFaults) {
        const reason = notApplicable[backend]?.[fault];
        const cell = reason
          ? { backend, fault, outcome: 'n/a' as const, detail: reason, invariant: true }
          : await runCell(place, fault);
        cells.push(cell);
        log(cell);
      }
    } finally {
      await target?.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return cells;
}

/** One transfer's end, as the caller saw it. */
interface Transfer {
  /** What it does to account 1: -10 (1 -> 2) or +10 (2 -> 1). */
  readonly delta: number;
  readonly ok: boolean;
  readonly attempts: number;
  readonly error?: unknown;
}

async function runCell(place: Place, fault: MatrixFault): Promise<Cell> {
  const table = `mx_${fault.replace(/\W+/g, '_').toLowerCase()}`;
  const setup = await createDatabase(place.url);
  await setup.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, balance INT NOT NULL)`);
  await setup.query(`INSERT INTO ${table} (id, balance) VALUES (1, 100), (2, 100)`);
  await setup.close();
  let transfers: Transfer[] = [];
  let detail = '';
  const met: string[] = [];
  try {
    ({ transfers, detail } = await scenario(place, fault, table, met));
  } catch (error) {
    return {
      backend: place.backend,
      fault,
      outcome: 'FAILED',
      detail: `scenario threw: ${String(error)}`,
      invariant: false,
    };
  }
  const check = await createDatabase(place.url);
  const { rows } = await check.query<{ id: number; balance: number }>(
    `SELECT id, balance FROM ${table} ORDER BY id`,
  );
  await check.close();
  const first = Number(rows[0]?.balance);
  const total = first + Number(rows[1]?.balance);
  // Every acknowledged transfer applied once; a failed one not at all; an ambiguous one either way.
  let possible = new Set([100 + transfers.filter((t) => t.ok).reduce((sum, t) => sum + t.delta, 0)]);
  for (const t of transfers.filter((t) => !t.ok && isDbopError(t.error, 'DBOP_AMBIGUOUS_COMMIT'))) {
    possible = new Set([...possible, ...[...possible].map((b) => b + t.delta)]);
  }
  const invariant = total === 200 && possible.has(first);
  const failures = transfers.filter((t) => !t.ok);
  const typed = failures.every((t) => isDbopError(t.error) || classify(t.error).kind !== 'unknown');
  const outcome = !invariant || !typed ? 'FAILED' : failures.length === 0 ? 'success' : 'typed error';
  // With one transfer, the balance says whether an ambiguous one had committed.
  const landed = (t: Transfer): string =>
    transfers.length === 1 && isDbopError(t.error, 'DBOP_AMBIGUOUS_COMMIT')
      ? ` (it had ${first === 100 ? 'not ' : ''}committed)`
      : '';
  const ends = transfers
    .map((t) => (t.ok ? `ok after ${t.attempts}` : `${errorName(t.error)} after ${t.attempts}${landed(t)}`))
    .join('; ');
  return {
    backend: place.backend,
    fault,
    outcome,
    detail: `${detail}: ${ends}${met.length > 0 ? `; met ${met.join(', ')}` : ''}`,
    invariant,
  };
}

function errorName(error: unknown): string {
  if (isDbopError(error)) return (error as { code: string }).code;
  const c = classify(error);
  return `${c.kind}${c.code ? ` ${c.code}` : ''}`;
}

const databaseOptions = { maxRetries: 8, initialDelayMs: 50, maxDelayMs: 1000 } as const;

async function transfer(
  db: Database,
  table: string,
  from: number,
  to: number,
  body?: (conn: DatabaseConnection, attempt: number) => Promise<void>,
  options: Parameters<Database['transaction']>[1] = {},
): Promise<Transfer> {
  let attempts = 0;
  try {
    await db.transaction(async (conn, attempt) => {
      attempts = attempt.attempt;
      await conn.execute(`UPDATE ${table} SET balance = balance - 10 WHERE id = ${from}`);
      await body?.(conn, attempt.attempt);
      await conn.execute(`UPDATE ${table} SET balance = balance + 10 WHERE id = ${to}`);
    }, options);
    return { delta: from === 1 ? -10 : 10, ok: true, attempts };
  } catch (error) {
    return { delta: from === 1 ? -10 : 10, ok: false, attempts, error };
  }
}

/** Resolves when both sides arrived (or after 1.5 s, so a side that cannot arrive does not hang the cell). */
function barrier(): () => Promise<void> {
  let arrived = 0;
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return async () => {
    arrived += 1;
    if (arrived >= 2) open();
    await Promise.race([opened, sleep(1500)]);
  };
}

async function scenario(
  place: Place,
  fault: MatrixFault,
  table: string,
  met: string[],
): Promise<{ transfers: Transfer[]; detail: string }> {
  const { backend, target } = place;
  const db = await createDatabase({
    url: place.url,
    max: fault === 'pool exhaustion' ? 2 : 4,
    ...databaseOptions,
  });
  try {
    switch (fault) {
      case 'deadlock': {
        // Two transfers in opposite directions, each waiting for the other after its first row: they cross.
        const meet = barrier();
        const crossing = (_conn: DatabaseConnection, attempt: number) =>
          attempt === 1 ? meet() : Promise.resolve();
        const transfers = await Promise.all([
          transfer(db, table, 1, 2, (c, a) => crossing(c, a)),
          transfer(db, table, 2, 1, (c, a) => crossing(c, a)),
        ]);
        return { transfers, detail: 'crossed row locks' };
      }
      case 'serialization': {
        // Both read the same row, then both write it: the second writer cannot be serialized.
        const meet = barrier();
        const both = (isolationLevel: 'serializable') => ({ isolationLevel });
        const rw = async (conn: DatabaseConnection, attempt: number): Promise<void> => {
          await conn.execute(`SELECT balance FROM ${table} WHERE id = 2`);
          if (attempt === 1) await meet();
        };
        const transfers = await Promise.all([
          transferReadFirst(db, table, rw, both('serializable')),
          transferReadFirst(db, table, rw, both('serializable')),
        ]);
        return { transfers, detail: 'SERIALIZABLE read-then-write race' };
      }
      case 'lock timeout': {
        // Another connection holds the row for 1.5 s; each attempt waits 200 ms at most, then backs off.
        const holding = hold(db, table, 1500);
        await sleep(300);
        const transfers = [await transfer(db, table, 1, 2, undefined, { lockTimeoutMs: 200 })];
        await holding;
        return { transfers, detail: 'row held 1.5 s, lockTimeoutMs 200' };
      }
      case 'statement timeout': {
        const slow = backend === 'postgres' ? 'SELECT pg_sleep(2)' : 'SELECT SLEEP(2)';
        const transfers = [
          await transfer(
            db,
            table,
            1,
            2,
            async (conn, attempt) => {
              if (attempt === 1) await conn.execute(slow);
            },
            { statementTimeoutMs: 300 },
          ),
        ];
        return { transfers, detail: 'first attempt runs 2 s, statementTimeoutMs 300' };
      }
      case 'killed mid-transaction': {
        const transfers = [
          await transfer(db, table, 1, 2, async (conn, attempt) => {
            if (attempt !== 1) return;
            const kill =
              backend === 'postgres'
                ? 'SELECT pg_terminate_backend(pg_backend_pid())'
                : 'KILL CONNECTION_ID()';
            // The server ends our own connection mid-transaction (the statement itself fails with it).
            await target!.admin(await killOwn(conn, backend, kill));
          }),
        ];
        return { transfers, detail: backend === 'postgres' ? 'pg_terminate_backend' : 'KILL' };
      }
      case 'killed during COMMIT': {
        // Through a proxy that resets the TCP connection right after the COMMIT reached the server.
        const proxy = await startFaultProxy({ targetPort: place.port! });
        const url = new URL(place.url);
        url.port = String(proxy.port);
        const viaProxy = await createDatabase({
          url: url.href,
          max: 2,
          ...databaseOptions,
          ...(backend === 'mariadb' ? { verifyCommits: true } : {}),
        });
        try {
          proxy.set({ resetOn: { text: 'COMMIT', deliver: true } });
          const transfers = [await transfer(viaProxy, table, 1, 2)];
          // A cell whose fault never happened proves nothing: fail it rather than call it a success.
          if (proxy.resetOnStrikes !== 1)
            throw new Error(`the reset struck ${proxy.resetOnStrikes} times, not once`);
          return { transfers, detail: 'TCP reset after COMMIT reached the server, its answer lost' };
        } finally {
          for (const [code, n] of Object.entries(viaProxy.stats().errors.byCode)) met.push(`${code} x${n}`);
          await viaProxy.close();
          await proxy.close();
        }
      }
      case 'server restart': {
        const transfers = [
          await transfer(db, table, 1, 2, async (_conn, attempt) => {
            if (attempt === 1) await target!.outage(500);
          }),
        ];
        return { transfers, detail: 'server stopped and started inside the first attempt' };
      }
      case 'pool exhaustion': {
        // Both pooled connections busy for 1.5 s: the transfer waits for one.
        const sleepSql =
          backend === 'postgres'
            ? 'SELECT pg_sleep(1.5)'
            : backend === 'mariadb'
              ? 'SELECT SLEEP(1.5)'
              : undefined;
        // Read-only: on SQLite two writers could not both hold a transaction open.
        const hogs = Array.from({ length: 2 }, () =>
          db
            .acquire(
              async (conn) => {
                if (sleepSql) await conn.execute(sleepSql);
                else await sleep(1500);
              },
              { readOnly: true },
            )
            .catch((error: unknown) => error),
        );
        await sleep(200);
        const transfers = [await transfer(db, table, 1, 2)];
        await Promise.allSettled(hogs);
        return { transfers, detail: 'pool of 2, both held 1.5 s' };
      }
    }
    throw new TypeError(`Unknown fault "${fault}"`);
  } finally {
    // What the server really answered along the way, by backend:code.
    for (const [code, n] of Object.entries(db.stats().errors.byCode)) met.push(`${code} x${n}`);
    await db.close();
  }
}

/** The kill statement aimed at this connection's own server-side id. */
async function killOwn(conn: DatabaseConnection, backend: MatrixBackend, _fallback: string): Promise<string> {
  if (backend === 'postgres') {
    const { rows } = await conn.execute<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return `SELECT pg_terminate_backend(${Number(rows[0]!.pid)})`;
  }
  const { rows } = await conn.execute<{ id: number }>('SELECT CONNECTION_ID() AS id');
  return `KILL ${Number(rows[0]!.id)}`;
}

async function transferReadFirst(
  db: Database,
  table: string,
  read: (conn: DatabaseConnection, attempt: number) => Promise<void>,
  options: Parameters<Database['transaction']>[1],
): Promise<Transfer> {
  let attempts = 0;
  try {
    await db.transaction(async (conn, attempt) => {
      attempts = attempt.attempt;
      await read(conn, attempt.attempt);
      await conn.execute(`UPDATE ${table} SET balance = balance - 10 WHERE id = 1`);
      await conn.execute(`UPDATE ${table} SET balance = balance + 10 WHERE id = 2`);
    }, options);
    return { delta: -10, ok: true, attempts };
  } catch (error) {
    return { delta: -10, ok: false, attempts, error };
  }
}

/** Holds row 1 locked (or SQLite's write lock) for `ms` in a transaction of its own. */
function hold(db: Database, table: string, ms: number): Promise<void> {
  return db.acquire(async (conn) => {
    await conn.execute(`UPDATE ${table} SET balance = balance WHERE id = 1`);
    await sleep(ms);
  });
}

/** The matrix as a markdown table: faults down, backends across. */
export function matrixTable(cells: readonly Cell[]): string {
  const lines = [
    `| fault | ${matrixBackends.join(' | ')} |`,
    `|---|${matrixBackends.map(() => '---').join('|')}|`,
  ];
  for (const fault of matrixFaults) {
    const row = matrixBackends.map((backend) => {
      const cell = cells.find((c) => c.backend === backend && c.fault === fault);
      if (!cell) return '-';
      const invariant =
        cell.outcome === 'n/a' ? '' : cell.invariant ? ', invariant kept' : ', **invariant broken**';
      return `**${cell.outcome}**${invariant} (${cell.detail.replaceAll('|', '/')})`;
    });
    lines.push(`| ${fault} | ${row.join(' | ')} |`);
  }
  return lines.join('\n');
}
