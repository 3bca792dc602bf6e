// One worker thread of the SQLite demo: its own Database on the shared file, as a second deployment of the
// same app would have. Started by runDemo; talks to it only through messages.
import { parentPort, workerData } from 'node:worker_threads';
import { createDatabase } from '../../database/create-database.js';
import type { BankTables } from './bank-schema.js';
import { demoPolicy, sqliteLockWait } from './demo-policy.js';
import { runWorkload, type WorkloadPlan } from './demo-workload.js';

const { url, tables, plan } = workerData as { url: string; tables: BankTables; plan: WorkloadPlan };
const controller = new AbortController();
let go: () => void = () => undefined;
const started = new Promise<void>((resolve) => {
  go = resolve;
});
parentPort!.on('message', (message: unknown) => {
  if (message === 'go') go();
  if (message === 'stop') {
    controller.abort();
    go();
  }
});
const db = await createDatabase({ url, max: plan.workers, ...demoPolicy, ...sqliteLockWait(plan.retry) });
try {
  // Every thread starts its workers at once, when all are loaded (see runDemo).
  parentPort!.postMessage({ type: 'ready' });
  await started;
  const result = await runWorkload(
    db,
    tables,
    plan,
    (snapshot) => parentPort!.postMessage({ type: 'progress', snapshot }),
    controller.signal,
  );
  parentPort!.postMessage({ type: 'done', result });
} finally {
  await db.close();
  parentPort!.close();
}
