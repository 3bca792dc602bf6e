import { ExponentialBackoff, handleAll, retry } from 'cockatiel';
import pRetry from 'p-retry';
import { execute } from '../src/execute.js';
import { heapAfterGc } from './bench-support.js';
import type { BenchSuite } from './suite.js';

// The op succeeds at once, so every case measures only the wrapper's own cost around one awaited call.
const op = async (): Promise<number> => 42;
const syncOp = (): number => 42;
const cockatiel = retry(handleAll, { maxAttempts: 5, backoff: new ExponentialBackoff() });
// Frozen to the bottom, so execute resolves it once: a frozen object holding a policy that is not frozen is
// resolved on every call, as that policy may change.
const named = Object.freeze({ name: 'bench', policy: Object.freeze({ maxRetries: 5 }) });

/** Overhead of execute() around an op that succeeds at once, beside a bare call, cockatiel and p-retry. */
export const suite: BenchSuite = {
  name: 'execute() overhead, op succeeds at once',
  baseline: 'bare call (await op())',
  cases: {
    'bare call (await op())': () => op(),
    'dbop execute(op)': () => execute(op),
    'dbop execute(syncOp)': () => execute(syncOp),
    'dbop execute(op, frozen options)': () => execute(op, named),
    'dbop execute(op, { attemptTimeoutMs })': () => execute(op, { attemptTimeoutMs: 1000 }),
    'cockatiel retry().execute(op)': () => cockatiel.execute(op),
    'p-retry pRetry(op)': () => pRetry(op, { retries: 5 }),
  },
  after: heapOver1e6Calls,
};

async function heapOver1e6Calls(): Promise<readonly string[]> {
  const heap = heapAfterGc();
  const marks: number[] = [heap()];
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 250_000; i++) await execute(op);
    marks.push(heap());
  }
  const mb = (bytes: number): string => (bytes / 1048576).toFixed(2);
  const growth = marks.at(-1)! - marks[1]!;
  return [
    '',
    `heap after gc at 0, 250k, 500k, 750k, 1M calls of execute(op): ${marks.map(mb).join(', ')} MB`,
    `growth from 250k to 1M calls: ${(growth / 1024).toFixed(1)} KB (${(growth / 750_000).toFixed(3)} bytes/call)`,
  ];
}
