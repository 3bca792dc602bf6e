/** What several bench files share: the test servers' URLs and a heap reading after a full GC. */
import { readFile } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * The servers a bench runs against: env DBOP_BENCH_PG_URL and DBOP_BENCH_MYSQL_URL, else the set
 * `npm run servers start` left running (.test-servers/state.json); undefined where there is neither.
 */
export async function benchServerUrls(): Promise<{ postgres?: string; mysql?: string }> {
  let state: { postgres?: { primary: { port: number } }; mariadb?: { port: number } } | undefined;
  try {
    state = JSON.parse(await readFile(new URL('../.test-servers/state.json', import.meta.url), 'utf8'));
  } catch {
    state = undefined;
  }
  const postgres =
    process.env.DBOP_BENCH_PG_URL ??
    (state?.postgres && `postgres://postgres@127.0.0.1:${state.postgres.primary.port}/dbop`);
  const mysql =
    process.env.DBOP_BENCH_MYSQL_URL ??
    (state?.mariadb && `mysql://root:dbop@127.0.0.1:${state.mariadb.port}/dbop`);
  return { ...(postgres ? { postgres } : {}), ...(mysql ? { mysql } : {}) };
}

/** A function that runs a full GC (twice, so weak references settle) and returns the heap in use, bytes. */
export function heapAfterGc(): () => number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  return () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
}
