import type pg from 'pg';
import { terminateBackend } from './servers.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Terminates backend `pid` (through `url`) as soon as `pool` sees it waiting on `waitEvent`. */
export async function killWhile(url: string, pool: pg.Pool, pid: number, waitEvent: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const { rows } = await pool.query('SELECT wait_event FROM pg_stat_activity WHERE pid = $1', [pid]);
    if (rows[0]?.wait_event === waitEvent) return terminateBackend(url, pid);
    await sleep(20);
  }
  throw new Error(`backend ${pid} never waited on ${waitEvent}`);
}
