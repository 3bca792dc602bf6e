/**
 * Goodput under contention (issue 9): 32 workers transfer between 10 hot accounts for `--seconds` per case,
 * cases interleaved over `--rounds`, on Postgres (SERIALIZABLE) and MariaDB. Each strategy is what a user
 * might write instead of dbop; the serial baseline is one connection doing transfers one after another,
 * the ceiling for 10 hot rows. On MariaDB every strategy, dbop's included, runs on mysql2 (mysql:// URL), so
 * the rows compare retry strategies rather than drivers; one more row shows dbop on the mariadb connector.
 *   npm run bench -- goodput --seconds=5 --rounds=3 --backends=postgres,mariadb
 * --cases=a,b keeps the cases whose name contains a or b; --lock-timeout=MS sets dbop's defaultLockTimeoutMs.
 * Env GOODPUT_PG_URL and GOODPUT_MARIADB_URL name the servers (default: the machine's own :5432 and :3306).
 */
import { setMaxListeners } from 'node:events';
import { parseArgs } from 'node:util';
import {
  accounts,
  type Bank,
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
  readonly committed: number;
  readonly failed: number;
  readonly latencies: number[];
  readonly seconds: number;
}

/** Runs `strategy` from `concurrency` workers until the round ends; the round's signal stops retries. */
async function runCase(strategy: Strategy, concurrency: number, seconds: number): Promise<CaseResult> {
  const controller = new AbortController();
  // Every in-flight unit listens on the round's signal.
  setMaxListeners(concurrency * 4, controller.signal);
  const startedAt = performance.now();
  const endAt = startedAt + seconds * 1000;
  let committed = 0;
  let failed = 0;
  const latencies: number[] = [];
  const worker = async (): Promise<void> => {
    while (performance.now() < endAt) {
      const plan = randomPlan();
      const unitStart = performance.now();
      try {
        await strategy(plan, controller.signal);
        const end = performance.now();
        // Only units that ended inside the window count: goodput is what the window produced.
        if (end <= endAt) {
          committed += 1;
          latencies.push(end - unitStart);
        }
      } catch (error) {
        if (!controller.signal.aborted) {
          failed += 1;
          if (failed <= 3) console.error(`  failed: ${(error as Error).message?.split('\n')[0]}`);
        }
      }
    }
  };
  const timer = setTimeout(() => controller.abort(new Error('round over')), seconds * 1000);
  await Promise.all(Array.from({ length: concurrency }, worker));
  clearTimeout(timer);
  return { committed, failed, latencies, seconds };
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
    const table = 'dbop_goodput_accounts';
    await resetTable(backend, urls[backend], table);
    const bank = (await openBank(
      backend,
      urls[backend],
      table,
      values['lock-timeout'] === undefined ? {} : { defaultLockTimeoutMs: Number(values['lock-timeout']) },
    )) as Bank & { serial: Strategy };
    const cases: [string, Strategy, number][] = [
      ...Object.entries(bank.strategies).map(([name, s]): [string, Strategy, number] => [name, s, workers]),
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
        const result = await runCase(strategy, concurrency, seconds);
        results.get(name)!.push(result);
        console.error(
          `  round ${round + 1} ${name}: ${(result.committed / seconds).toFixed(1)}/s, ${result.failed} failed`,
        );
        if (name.includes('createDatabase'))
          console.error(`    limiter after the round: ${JSON.stringify(bank.limiter())}`);
      }
    }
    const after = await bank.total();
    await bank.close();
    const header = ['case', 'committed/s (median)', 'min-max of rounds', 'failed', 'p50 ms', 'p99 ms'];
    const rows = selected.map(([name]) => {
      const list = results.get(name)!;
      const rates = list.map((r) => r.committed / r.seconds).sort((a, b) => a - b);
      const latencies = list.flatMap((r) => r.latencies).sort((a, b) => a - b);
      return [
        name,
        fmt(rates[Math.floor(rates.length / 2)]!),
        `${fmt(rates[0]!)}-${fmt(rates.at(-1)!)}`,
        String(list.reduce((n, r) => n + r.failed, 0)),
        fmt(percentile(latencies, 50)),
        fmt(percentile(latencies, 99)),
      ];
    });
    printTable(header, rows);
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
 */
function printRatios(names: readonly string[], results: ReadonlyMap<string, CaseResult[]>): void {
  const dbop = names.find((name) => name.includes('(default)'));
  const others = names.filter((name) => !name.startsWith('dbop') && name !== serialName);
  if (dbop === undefined) return;
  const rate = (name: string, round: number): number => {
    const r = results.get(name)![round]!;
    return r.committed / r.seconds;
  };
  const describe = (label: string, ratios: number[]): void => {
    if (ratios.length === 0) return;
    const sorted = [...ratios].sort((a, b) => a - b);
    console.log(
      `${label}: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)}x (rounds ${sorted.map((r) => r.toFixed(2)).join(', ')})`,
    );
  };
  const rounds = results.get(dbop)!.length;
  const perRound = (divisor: (round: number) => number): number[] =>
    Array.from({ length: rounds }, (_, round) => rate(dbop, round) / divisor(round)).filter(Number.isFinite);
  if (others.length > 0) {
    describe(
      'per round, dbop default / best other strategy',
      perRound((round) => Math.max(...others.map((name) => rate(name, round)))),
    );
  }
  if (names.includes(serialName)) {
    describe(
      'per round, dbop default / serial baseline',
      perRound((round) => rate(serialName, round)),
    );
  }
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
