import type pg from 'pg';
import { terminateBackend } from './servers.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `table (id, n)` with a deferred constraint trigger that runs inside COMMIT: a row with n = 1 makes COMMIT
 * sleep `seconds`, long enough to kill the backend there (a real lost COMMIT).
 */
export async function createSlowCommitTable(pool: pg.Pool, table: string, seconds: number): Promise<void> {
  await pool.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, n INT NOT NULL DEFAULT 0)`);
  await pool.query(`CREATE FUNCTION ${table}_slow() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.n = 1 THEN PERFORM pg_sleep(${seconds}); END IF; RETURN NULL; END $$`);
  await pool.query(`CREATE CONSTRAINT TRIGGER ${table}_slow AFTER INSERT ON ${table}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ${table}_slow()`);
}

/** Terminates backend `pid` (through `url`) as soon as `pool` sees it waiting on `waitEvent`. */
export async function killWhile(url: string, pool: pg.Pool, pid: number, waitEvent: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const { rows } = await pool.query('SELECT wait_event FROM pg_stat_activity WHERE pid = $1', [pid]);
    if (rows[0]?.wait_event === waitEvent) return terminateBackend(url, pid);
    await sleep(20);
  }
  throw new Error(`backend ${pid} never waited on ${waitEvent}`);
}
