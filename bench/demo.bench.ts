/**
 * The SQLite demo against the simplest correct hand-written code (issue 9): `dbop demo`'s workload (four
 * worker threads of two workers on one SQLite file, each thread its own connections) next to the same
 * transfers written with better-sqlite3 directly (prepared statements, `db.transaction(fn).immediate()`,
 * busy_timeout 5000 so SQLite waits for the lock itself), the same pauses between transfers. Interleaved
 * rounds, order reversed every other round; the per-round ratio is the steady figure on a shared machine.
 *   npm run bench -- demo --seconds=5 --rounds=3
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { bankTables, createBank, openingBalance } from '../src/cli/demo/bank-schema.js';
import { runDemo, sqliteThreads } from '../src/cli/demo/run-demo.js';
import { createDatabase } from '../src/index.js';
import type { BenchSuite } from './suite.js';

const workers = 8;
const accounts = 10;

// One thread of the hand-written version: plain better-sqlite3, as its README shows transactions.
const handThread = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const { file, tables, workers, seconds, group, accounts } = workerData;
const db = new Database(file, { timeout: 5000 });
const read = db.prepare('SELECT balance FROM ' + tables.accounts + ' WHERE id = ?');
const debit = db.prepare('UPDATE ' + tables.accounts + ' SET balance = balance - ? WHERE id = ?');
const credit = db.prepare('UPDATE ' + tables.accounts + ' SET balance = balance + ? WHERE id = ?');
const record = db.prepare('INSERT INTO ' + tables.transfers + ' (id, from_id, to_id, amount) VALUES (?, ?, ?, ?)');
const transfer = db.transaction((t) => {
  read.get(t.from);
  read.get(t.to);
  debit.run(t.amount, t.from);
  credit.run(t.amount, t.to);
  record.run(t.id, t.from, t.to, t.amount);
});
const pause = () => new Promise((resolve) => setTimeout(resolve, 1 + Math.random() * 2));
const endAt = performance.now() + seconds * 1000;
let committed = 0;
let failed = 0;
const worker = async (index) => {
  for (let sequence = 1; performance.now() < endAt; sequence += 1) {
    const from = 1 + Math.floor(Math.random() * accounts);
    let to = 1 + Math.floor(Math.random() * (accounts - 1));
    if (to >= from) to += 1;
    const t = { id: group + 'w' + index + '-' + sequence, from, to, amount: 1 + Math.floor(Math.random() * 100) };
    try {
      transfer.immediate(t);
      committed += 1;
    } catch {
      failed += 1;
    }
    await pause();
  }
};
Promise.all(Array.from({ length: workers }, (_, i) => worker(i + 1))).then(() => {
  db.close();
  parentPort.postMessage({ committed, failed });
});
`;

interface Outcome {
  readonly committed: number;
  readonly failed: number;
  readonly seconds: number;
}

async function handWritten(seconds: number): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'dbop-demo-hand-'));
  const file = join(dir, 'bank.db');
  const tables = bankTables('hand');
  try {
    // The same schema and WAL file the demo makes.
    const db = await createDatabase(`sqlite:${file}`);
    await createBank(db, tables, accounts);
    await db.close();
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const per = workers / sqliteThreads;
    const results = await Promise.all(
      Array.from(
        { length: sqliteThreads },
        (_, i) =>
          new Promise<{ committed: number; failed: number }>((resolve, reject) => {
            const thread = new Worker(handThread, {
              eval: true,
              workerData: { driver, file, tables, workers: per, seconds, group: `t${i + 1}`, accounts },
            });
            thread.once('message', resolve);
            thread.once('error', reject);
          }),
      ),
    );
    const check = await createDatabase(`sqlite:${file}`);
    const { rows } = await check.query<{ total: number }>(
      `SELECT SUM(balance) AS total FROM ${tables.accounts}`,
    );
    await check.close();
    if (Number(rows[0]!.total) !== accounts * openingBalance)
      throw new Error('hand-written: books do not balance');
    return {
      committed: results.reduce((n, r) => n + r.committed, 0),
      failed: results.reduce((n, r) => n + r.failed, 0),
      seconds,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function dbopDemo(seconds: number, retry: boolean): Promise<Outcome> {
  const report = await runDemo({ workers, durationS: seconds, retry });
  if (!report.invariant.holds) throw new Error('dbop demo: books do not balance');
  return { committed: report.committed, failed: report.failed, seconds: report.elapsedS };
}

async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' } },
    allowPositionals: true,
  });
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const cases: [string, () => Promise<Outcome>][] = [
    ['better-sqlite3 by hand (.immediate(), busy_timeout 5000)', () => handWritten(seconds)],
    ['dbop demo (db.transaction, retries)', () => dbopDemo(seconds, true)],
  ];
  const results = new Map<string, Outcome[]>(cases.map(([name]) => [name, []]));
  console.log(
    `\n## SQLite demo: ${workers} workers in ${sqliteThreads} threads, ${accounts} accounts, ${seconds} s x ${rounds} rounds`,
  );
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? cases : [...cases].reverse();
    for (const [name, run] of order) {
      const outcome = await run();
      results.get(name)!.push(outcome);
      console.error(
        `  round ${round + 1} ${name}: ${(outcome.committed / outcome.seconds).toFixed(0)}/s, ${outcome.failed} failed`,
      );
    }
  }
  console.log('| case | committed/s (median) | min-max of rounds | failed |');
  console.log('|------|----------------------|-------------------|--------|');
  for (const [name] of cases) {
    const list = results.get(name)!;
    const rates = list.map((o) => o.committed / o.seconds).sort((a, b) => a - b);
    const failed = list.reduce((n, o) => n + o.failed, 0);
    console.log(
      `| ${name} | ${rates[Math.floor(rates.length / 2)]!.toFixed(0)} | ${rates[0]!.toFixed(0)}-${rates.at(-1)!.toFixed(0)} | ${failed} |`,
    );
  }
  const [hand, dbop] = cases.map(([name]) => results.get(name)!);
  const ratios = dbop!
    .map((o, i) => o.committed / o.seconds / (hand![i]!.committed / hand![i]!.seconds))
    .sort((a, b) => a - b);
  console.log(
    `per round, dbop / by hand: median ${ratios[Math.floor(ratios.length / 2)]!.toFixed(2)}x (rounds ${ratios.map((r) => r.toFixed(2)).join(', ')})`,
  );
}

export const suite: BenchSuite = { name: 'SQLite demo versus hand-written', cases: {}, run: main };
