/**
 * The chaos soak: `npm run soak -- --seconds N [--workers 32] [--backends postgres,mariadb] [--max-transfers N]
 * [--json FILE]`. Starts its own private Postgres and MariaDB (test/support/harness), runs a bank-transfer
 * workload through each fault phase (backends killed every 200 ms, idle connections killed, the server
 * stopped for 3 s and started, the pool exhausted), audits after each phase, prints a JSON summary and a
 * table, and exits 0 only when every audit held. Bounded: it stops by itself after about N seconds.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { runSoak, soakTable } from './soak/soak-run.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    workers: { type: 'string', default: '32' },
    backends: { type: 'string', default: 'postgres,mariadb' },
    'max-transfers': { type: 'string' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(
    'usage: npm run soak -- --seconds N [--workers 32] [--backends postgres,mariadb] [--max-transfers N] [--json FILE]',
  );
  process.exit(0);
}
const seconds = Number(values.seconds);
const workers = Number(values.workers);
if (!Number.isFinite(seconds) || seconds <= 0)
  throw new TypeError(`Expected --seconds to be a positive number, got ${values.seconds}`);
if (!Number.isSafeInteger(workers) || workers < 1)
  throw new TypeError(`Expected --workers to be a positive integer, got ${values.workers}`);
const backends = values.backends.split(',').map((b) => b.trim());
for (const backend of backends) {
  if (backend !== 'postgres' && backend !== 'mariadb')
    throw new TypeError(`Unknown backend "${backend}": postgres or mariadb`);
}
const maxTransfers = values['max-transfers'] === undefined ? undefined : Number(values['max-transfers']);

const summary = await runSoak({
  seconds,
  workers,
  backends: backends as ('postgres' | 'mariadb')[],
  ...(maxTransfers === undefined ? {} : { maxTransfers }),
  log: (line) => console.error(line),
});
const json = JSON.stringify(summary, null, 2);
if (values.json !== undefined) await writeFile(values.json, `${json}\n`);
console.log(json);
console.log(`\n${soakTable(summary)}\n\n${summary.ok ? 'every audit held' : 'AN AUDIT FAILED'}`);
process.exit(summary.ok ? 0 : 1);
