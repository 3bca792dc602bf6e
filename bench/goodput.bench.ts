/**
 * Goodput under contention (issue 9): 32 workers transfer between 10 hot accounts for `--seconds` per case,
 * cases interleaved over `--rounds`, on Postgres (SERIALIZABLE) and MariaDB. Each strategy is what a user
 * might write instead of dbop; the serial baseline is one connection doing transfers one after another,
 * the ceiling for 10 hot rows. The "ceiling:" rows are references, not strategies a user would pick blind: the
 * hand-written transaction behind a fixed limit tuned offline for this workload, to show what goodput is
 * reachable at all in a run. Latency counts every unit started in the window: one still running (or sleeping
 * in a backoff) when the window ends counts with its time so far, a lower bound. On MariaDB every strategy, dbop's included, runs on mysql2 (mysql:// URL), so
 * the rows compare retry strategies rather than drivers; one more row shows dbop on the mariadb connector.
 *   npm run bench -- goodput --seconds=5 --rounds=3 --backends=postgres,mariadb
 * --cases=a,b keeps the cases whose name contains a or b; --lock-timeout=MS sets dbop's defaultLockTimeoutMs.
 * Env GOODPUT_PG_URL and GOODPUT_MARIADB_URL name the servers (default: the machine's own :5432 and :3306).
 * Env GOODPUT_TABLE names the table it drops and refills (default dbop_goodput_accounts), so two runs can share a server.
 */
import { setMaxListeners } from 'node:events';
import { parseArgs } from 'node:util';
import {
  accounts,
  ceilingPrefix,
  type GoodputBackend,
  openBank,
  resetTable,
  type Strategy,
  type TransferPlan,
} from './goodput-strategies.js';
import type { BenchSuite } from './suite.js';

const workers = 32;
const serialName = 'serial baseline (1 connection, 1 worker)';
const urls: Record<GoodputBackend, string> = {
  postgres: process.env.GOODPUT_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  mariadb: process.env.GOODPUT_MARIADB_URL ?? 'mariadb://root@127.0.0.1:3306/test',
};

interface CaseResult {
  /** Units that committed inside the window. */
  readonly committed: number;
  /** Units that gave up inside the window. */
  readonly failed: number;
  /** Every unit started in the window, ms: to its end, or to the window's end if it was still running then. */
  readonly latencies: number[];
  /** Units still running (or sleeping in a backoff) when the window ended. */
  readonly unfinished: number;
  /**
   * The longest any unfinished unit had run at the window's end, ms. Each worker always has one unit in
   * flight, so `unfinished` is the worker count; how long they had waited is what tells strategies apart.
   */
  readonly oldestUnfinishedMs: number;
  readonly seconds: number;
  /** From the round's abort to the last unit's end, ms: how quickly the strategy obeys the signal. */
  readonly drainMs: number;
}

/**
 * What a unit started at `start` and settled at `end` shows of a window ending at `windowEnd`: its latency
 * if it ended inside, else (or if the round's abort ended it) its time up to the window's end, a lower bound.
 */
function unitInWindow(
  start: number,
  end: number,
  windowEnd: number,
  aborted: boolean,
): { readonly ms: number; readonly unfinished: boolean } {
  const unfinished = aborted || end > windowEnd;
  return { ms: (unfinished ? Math.min(end, windowEnd) : end) - start, unfinished };
}

/**
 * Runs `strategy` from `concurrency` workers until the round ends; the round's signal stops retries, and
 * `cancelWaits` (called at the abort and every 250 ms until the last unit ends) frees statements stuck in
 * a lock wait that no signal reaches.
 */
async function runCase(
  strategy: Strategy,
  concurrency: number,
  seconds: number,
  cancelWaits: () => Promise<void>,
): Promise<CaseResult> {
  const controller = new AbortController();
  // Every in-flight unit listens on the round's signal.
  setMaxListeners(concurrency * 4, controller.signal);
  const startedAt = performance.now();
  const endAt = startedAt + seconds * 1000;
  let committed = 0;
  let failed = 0;
  let unfinished = 0;
  let oldestUnfinishedMs = 0;
  const latencies: number[] = [];
  let abortedAt = Number.POSITIVE_INFINITY;
  const worker = async (): Promise<void> => {
    while (performance.now() < endAt && !controller.signal.aborted) {
      const plan = randomPlan();
      const unitStart = performance.now();
      let failure: unknown;
      let ok = false;
      try {
        await strategy(plan, controller.signal);
        ok = true;
      } catch (error) {
        failure = error;
      }
      // Goodput is what the window produced: only units that ended inside it commit or fail. A unit the
      // window's end caught still counts in the latencies, with its time so far, so a strategy cannot hide
      // its slowest units by leaving them unfinished.
      // Node may fire the abort's timer a fraction of a millisecond before endAt: the abort ends the window.
      const end = performance.now();
      const unit = unitInWindow(unitStart, end, Math.min(endAt, abortedAt), controller.signal.aborted);
      latencies.push(unit.ms);
      if (unit.unfinished) {
        unfinished += 1;
        oldestUnfinishedMs = Math.max(oldestUnfinishedMs, unit.ms);
      } else if (ok) committed += 1;
      else {
        failed += 1;
        if (failed <= 3) console.error(`  failed: ${(failure as Error).message?.split('\n')[0]}`);
      }
    }
  };
  const cancel = (): void => {
    cancelWaits().catch((error: unknown) => console.error(`  cancel: ${(error as Error).message}`));
  };
  let canceller: NodeJS.Timeout | undefined;
  const timer = setTimeout(
    () => {
      abortedAt = performance.now();
      controller.abort(new Error('round over'));
      cancel();
      canceller = setInterval(cancel, 250);
    },
    Math.max(0, endAt - performance.now()),
  );
  await Promise.all(Array.from({ length: concurrency }, worker));
  clearTimeout(timer);
  clearInterval(canceller);
  // Every worker may finish before the timer fires (a unit ended right at the window's end): no drain then.
  const drainMs = Number.isFinite(abortedAt) ? performance.now() - abortedAt : 0;
  return { committed, failed, latencies, unfinished, oldestUnfinishedMs, seconds, drainMs };
}

function randomPlan(): TransferPlan {
  const from = Math.floor(Math.random() * accounts);
  let to = Math.floor(Math.random() * (accounts - 1));
  if (to >= from) to += 1;
  const fromFirst = Math.random() < 0.5;
  return { from, to, first: fromFirst ? from : to, second: fromFirst ? to : from };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function fmt(value: number): string {
  if (Number.isNaN(value)) return '-';
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1);
}

async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      seconds: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '3' },
      backends: { type: 'string', default: 'postgres,mariadb' },
      cases: { type: 'string' },
      'lock-timeout': { type: 'string' },
    },
    allowPositionals: true,
  });
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const backends = values.backends.split(',') as GoodputBackend[];
  const only = values.cases?.split(',');
  for (const backend of backends) {
    const table = process.env.GOODPUT_TABLE ?? 'dbop_goodput_accounts';
    await resetTable(backend, urls[backend], table);
    const bank = await openBank(
      backend,
      urls[backend],
      table,
      values['lock-timeout'] === undefined ? {} : { defaultLockTimeoutMs: Number(values['lock-timeout']) },
    );
    const cases: [string, Strategy, number][] = [
      ...Object.entries({ ...bank.strategies, ...bank.ceilings }).map(
        ([name, s]): [string, Strategy, number] => [name, s, workers],
      ),
      [serialName, bank.serial, 1],
    ];
    const selected =
      only === undefined ? cases : cases.filter(([name]) => only.some((o) => name.includes(o)));
    const results = new Map<string, CaseResult[]>(selected.map(([name]) => [name, []]));
    const before = await bank.total();
    console.log(
      `\n## goodput on ${backend}: ${workers} workers, ${accounts} hot accounts, ${seconds} s x ${rounds} rounds`,
    );
    for (let round = 0; round < rounds; round++) {
      // A different order each round, so a slow patch of the shared machine does not always hit one case.
      const order = round % 2 === 0 ? selected : [...selected].reverse();
      for (const [name, strategy, concurrency] of order) {
        const result = await runCase(strategy, concurrency, seconds, () => bank.cancelLockWaits());
        results.get(name)!.push(result);
        console.error(
          `  round ${round + 1} ${name}: ${(result.committed / seconds).toFixed(1)}/s, ${result.failed} failed, ` +
            `${result.unfinished} unfinished (oldest ${result.oldestUnfinishedMs.toFixed(0)} ms), drained in ${result.drainMs.toFixed(0)} ms`,
        );
        if (name.includes('createDatabase'))
          console.error(`    limiter after the round: ${JSON.stringify(bank.limiter())}`);
      }
    }
    const after = await bank.total();
    await bank.close();
    const header = [
      'case',
      'committed/s (median)',
      'min-max of rounds',
      'failed',
      'unfinished',
      'oldest unfinished ms',
      'p50 ms',
      'p99 ms',
      'drain ms (max)',
    ];
    const rows = selected.map(([name]) => {
      const list = results.get(name)!;
      const rates = list.map((r) => r.committed / r.seconds).sort((a, b) => a - b);
      const latencies = list.flatMap((r) => r.latencies).sort((a, b) => a - b);
      return [
        name,
        fmt(rates[Math.floor(rates.length / 2)]!),
        `${fmt(rates[0]!)}-${fmt(rates.at(-1)!)}`,
        String(list.reduce((n, r) => n + r.failed, 0)),
        String(list.reduce((n, r) => n + r.unfinished, 0)),
        fmt(Math.max(...list.map((r) => r.oldestUnfinishedMs))),
        fmt(percentile(latencies, 50)),
        fmt(percentile(latencies, 99)),
        fmt(Math.max(...list.map((r) => r.drainMs))),
      ];
    });
    printTable(header, rows);
    console.log(
      '\nfailed and unfinished: sums over the rounds (each worker has one unit in flight when a window ends).' +
        " p50/p99 over every unit started in a window: an unfinished one counts with its time at the window's end" +
        " (a lower bound). oldest unfinished, drain: the worst round; drain runs from the abort to the last unit's end.",
    );
    printRatios(
      selected.map(([name]) => name),
      results,
    );
    console.log(
      `\nsum of balances before ${before}, after ${after}${before === after ? ' (nothing lost or doubled)' : ' MISMATCH'}`,
    );
  }
}

/**
 * The load on a shared machine drifts between rounds more than cases differ: each round's ratio of dbop's
 * default to the best other strategy (and to the serial baseline) in that same round is the steadier figure.
 * The ceiling rows are compared on their own: is the best other strategy's rate times 1.3 reachable at all?
 */
function printRatios(names: readonly string[], results: ReadonlyMap<string, CaseResult[]>): void {
  const dbop = names.find((name) => name.includes('(default)'));
  const ceilings = names.filter((name) => name.startsWith(ceilingPrefix));
  const others = names.filter(
    (name) => !name.startsWith('dbop') && name !== serialName && !name.startsWith(ceilingPrefix),
  );
  const perRound = (name: string): number[] => results.get(name)!.map((r) => r.committed / r.seconds);
  const best = (group: readonly string[]): number[] => {
    const rates = group.map(perRound);
    return rates[0]!.map((_, round) => Math.max(...rates.map((list) => list[round]!)));
  };
  const describe = (label: string, numerators: readonly number[], divisors: readonly number[]): void => {
    const ratios = roundRatios(numerators, divisors);
    if (ratios.length === 0) return;
    const sorted = [...ratios].sort((a, b) => a - b);
    console.log(
      `${label}: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)}x (rounds ${sorted.map((r) => r.toFixed(2)).join(', ')})`,
    );
  };
  if (dbop !== undefined && others.length > 0)
    describe('per round, dbop default / best other strategy', perRound(dbop), best(others));
  if (dbop !== undefined && names.includes(serialName))
    describe('per round, dbop default / serial baseline', perRound(dbop), perRound(serialName));
  if (ceilings.length === 0) return;
  if (dbop !== undefined)
    describe('per round, dbop default / best ceiling row', perRound(dbop), best(ceilings));
  if (others.length > 0) describe('per round, best other / best ceiling row', best(others), best(ceilings));
}

/** Round by round, numerator over divisor; a round with no finite ratio (a divisor of 0) is left out. */
function roundRatios(numerators: readonly number[], divisors: readonly number[]): number[] {
  return numerators.map((n, round) => n / divisors[round]!).filter(Number.isFinite);
}

function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

export const suite: BenchSuite = {
  name: 'goodput under contention',
  cases: {},
  run: main,
};
