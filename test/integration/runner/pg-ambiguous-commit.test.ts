import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AttemptContext } from '../../../src/core/attempt.js';
import { isAmbiguousCommitError } from '../../../src/core/errors.js';
import type { Session, SessionSource } from '../../../src/core/session.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { pgPoolSource, pgSession } from '../../../src/sessions/pg/index.js';
import { killWhile } from '../../support/kill-while.js';
import {
  describeIfPostgres,
  type PgCluster,
  startPostgres,
  terminateBackend,
} from '../../support/servers.js';
import { createSlowCommitTable } from '../../support/slow-commit-table.js';
import { recordingLogger, sleep } from './runner-support.js';

const table = `dbop_kill_${process.pid}`;

describeIfPostgres('runner.transaction and pg_terminate_backend', () => {
  let cluster: PgCluster;
  let pool: pg.Pool;
  let url: string;

  beforeAll(async () => {
    cluster = await startPostgres();
    url = cluster.primary.url;
    pool = new pg.Pool({ connectionString: url, max: 4 });
    pool.on('error', () => undefined);
    // A deferred constraint trigger runs inside COMMIT: with a sleep it holds COMMIT open long enough to kill it.
    await createSlowCommitTable(pool, table, 2);
  }, 120_000);
  afterAll(async () => {
    await pool?.end();
    await cluster?.destroy();
  });

  it('killed during a step: runner.transaction reconnects through its source and completes once', async () => {
    const logger = recordingLogger();
    const runner = new DbOpRunner({ maxRetries: 3, initialDelayMs: 10, logger });
    await runner.transaction(
      pgPoolSource(pool),
      async (s, attempt) => {
        await s.query(`INSERT INTO ${table} (id) VALUES (1)`);
        if (attempt.attempt === 1) {
          await terminateBackend(url, (s.raw as unknown as { processID: number }).processID);
          await s.query('SELECT 1');
        }
      },
      { name: 'step-kill' },
    );
    const { rows } = await pool.query(`SELECT count(*)::int AS c FROM ${table} WHERE id = 1`);
    expect(rows[0].c).toBe(1);
    expect(logger.records.some((r) => r.message === 'step-kill failed' && r.level === 'warn')).toBe(true);
  });

  it('killed during COMMIT before it committed: pg_xact_status says aborted, the retry applies the write once', async () => {
    const logger = recordingLogger();
    const runner = new DbOpRunner({ maxRetries: 3, initialDelayMs: 10, logger });
    let pids: number[] = [];
    await runner.transaction(
      pgPoolSource(pool),
      async (s, attempt) => {
        const pid = (s.raw as unknown as { processID: number }).processID;
        pids.push(pid);
        // n = 1 makes the deferred trigger sleep inside COMMIT on the first attempt only.
        await s.query(`INSERT INTO ${table} (id, n) VALUES (2, $1)`, [attempt.attempt === 1 ? 1 : 0]);
        if (attempt.attempt === 1) void killWhile(url, pool, pid, 'PgSleep');
      },
      { name: 'commit-kill' },
    );
    const { rows } = await pool.query(`SELECT count(*)::int AS c FROM ${table} WHERE id = 2`);
    expect(rows[0].c).toBe(1);
    expect(pids.length).toBe(2);
    pids = [];
  });

  it('killed while COMMIT waited after committing locally: verified committed, not retried, applied once', async () => {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      // A synchronous standby that never comes: COMMIT writes locally, then waits forever for it.
      await admin.query("ALTER SYSTEM SET synchronous_standby_names = 'dbop_nobody'");
      await admin.query('SELECT pg_reload_conf()');
      await sleep(200);
      const runner = new DbOpRunner({ maxRetries: 3, initialDelayMs: 10 });
      let attempts = 0;
      await runner.transaction(
        pgPoolSource(pool),
        async (s) => {
          attempts += 1;
          await s.query(`INSERT INTO ${table} (id) VALUES (3)`);
          void killWhile(url, pool, (s.raw as unknown as { processID: number }).processID, 'SyncRep');
        },
        { name: 'syncrep-kill' },
      );
      expect(attempts).toBe(1);
      const { rows } = await pool.query(`SELECT count(*)::int AS c FROM ${table} WHERE id = 3`);
      expect(rows[0].c).toBe(1);
    } finally {
      await admin.query('ALTER SYSTEM RESET synchronous_standby_names');
      await admin.query('SELECT pg_reload_conf()');
      await admin.end();
    }
  });

  it('killed during COMMIT with no way to verify: AmbiguousCommitError, no retry; idempotent work is retried', async () => {
    // Sessions without a sidecar cannot ask pg_xact_status: the outcome must be reported, not guessed.
    const blind: SessionSource<pg.PoolClient> = {
      acquire: async () => pgSession(await pool.connect()),
      release: async (s) => s.raw.release(s.destroyed || s.inTransaction()),
    };
    const runner = new DbOpRunner({ maxRetries: 3, initialDelayMs: 10 });
    let attempts = 0;
    const body = (id: number) => async (s: Session<pg.PoolClient>, attempt: AttemptContext) => {
      attempts += 1;
      // n = 1 makes the deferred trigger sleep inside COMMIT, long enough to kill the backend there.
      await s.query(`INSERT INTO ${table} (id, n) VALUES ($1, $2)`, [id, attempt.attempt === 1 ? 1 : 0]);
      if (attempt.attempt === 1)
        void killWhile(url, pool, (s.raw as unknown as { processID: number }).processID, 'PgSleep');
    };
    const error = await runner.transaction(blind, body(4), { name: 'blind-commit' }).catch((e: unknown) => e);
    expect(isAmbiguousCommitError(error)).toBe(true);
    expect(attempts).toBe(1);
    attempts = 0;
    await runner.transaction(blind, body(5), { name: 'blind-idempotent', idempotent: true });
    expect(attempts).toBe(2);
    const { rows } = await pool.query(`SELECT id FROM ${table} WHERE id IN (4, 5) ORDER BY id`);
    expect(rows.map((r) => r.id)).toEqual([5]);
  });

  it('idempotent run() on a fixed session killed during COMMIT: the original error, no retry on the dead session', async () => {
    const runner = new DbOpRunner({ maxRetries: 3, initialDelayMs: 10 });
    for (const [id, sidecar] of [
      [6, undefined],
      [7, pool],
    ] as const) {
      const client = await pool.connect();
      const session = sidecar === undefined ? pgSession(client) : pgSession(client, { sidecar });
      let attempts = 0;
      const error = await runner
        .run(
          session,
          async (s) => {
            attempts += 1;
            await s.query(`INSERT INTO ${table} (id, n) VALUES ($1, 1)`, [id]);
            void killWhile(url, pool, (client as unknown as { processID: number }).processID, 'PgSleep');
          },
          { name: 'fixed-idempotent', idempotent: true },
        )
        .catch((e: unknown) => e);
      client.release(true);
      expect(attempts).toBe(1);
      expect((error as { code?: unknown }).code).not.toBe('DBOP_SESSION_DESTROYED');
      expect(String((error as Error).message)).toMatch(/terminat/i);
      expect(session.destroyed).toBe(true);
    }
  });
});
