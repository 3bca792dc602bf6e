/**
 * Starts, stops and reports the private test servers: `tsx scripts/test-servers.ts start|stop|status`.
 * `start` leaves a PostgreSQL primary with two streaming standbys and a MariaDB server running (add
 * `--galera` for a three-node Galera cluster too) and writes .test-servers/state.json, which test runs reuse
 * instead of starting their own set. Run as root it switches to the postgres and mysql users and installs
 * missing Debian packages itself.
 */
import { parseArgs } from 'node:util';
import { startGalera } from '../test/support/harness/galera.js';
import { loadRunningSet, saveState, startSharedSet, stateFile } from '../test/support/harness/shared-set.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { galera: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
});
const command = positionals[0];

if (values.help || command === undefined || !['start', 'stop', 'status'].includes(command)) {
  console.log('usage: tsx scripts/test-servers.ts start [--galera] | stop | status');
  process.exit(values.help ? 0 : 2);
}

const running = await loadRunningSet();
if (command === 'status') {
  console.log(running ? JSON.stringify(running.info, null, 2) : 'no test servers running');
} else if (command === 'stop') {
  await running?.stop();
  console.log(running ? 'stopped' : 'no test servers running');
} else if (running) {
  console.log(`already running (${stateFile}):\n${JSON.stringify(running.info, null, 2)}`);
} else {
  const started = Date.now();
  const set = await startSharedSet();
  await saveState(set);
  console.log(JSON.stringify(set.info, null, 2));
  if (values.galera) {
    const galera = await startGalera(3);
    console.log(
      `galera: ${galera.nodes.map((n) => n.url).join(' ')} (stop: kill the mariadbd processes under ${galera.dir})`,
    );
  }
  console.log(`started in ${Date.now() - started} ms`);
  if (set.info.reason) process.exitCode = 1;
}
