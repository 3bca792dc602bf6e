import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isCommitInFlight } from '../../../src/core/commit-marker.js';
import { isAmbiguousCommitError } from '../../../src/core/errors.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { pgPoolSource, pgSession } from '../../../src/sessions/pg/index.js';
import { isVerifiedAbort } from '../../../src/sessions/shared/verify-commit.js';
import { type FaultProxy, startFaultProxy } from '../../../src/testing/fault-proxy.js';
import { describeIfPostgres, postgresUrl, terminateBackend } from '../../support/servers.js';
import { createSlowCommitTable } from '../../support/slow-commit-table.js';

const table = `dbop_orderly_${process.pid}`;

async function until(what: string, done: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await done()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function settle(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

// Issue 9 / 15: a COMMIT batch (SELECT txid_current_if_assigned(); COMMIT) whose backend was terminated.
// The FaultProxy holds the client's bytes, so the batch has certainly not reached the server when the
// backend gets pg_terminate_backend; its FATAL 57P01 still reaches the client, in order.
describeIfPostgres('a COMMIT batch ended by an orderly FATAL (pg)', () => {
  let url: string;
  let proxiedUrl: string;
  let proxy: FaultProxy;
  let direct: pg.Pool;

  beforeAll(async () => {
    url = postgresUrl();
    const target = new URL(url);
    proxy = await startFaultProxy({ targetPort: Number(target.port) });
    target.port = String(proxy.port);
    proxiedUrl = target.toString();
    direct = new pg.Pool({ connectionString: url, max: 3 });
    direct.on('error', () => undefined);
    // A row with n = 1 makes COMMIT sleep in a deferred trigger, long enough to kill it there.
    await createSlowCommitTable(direct, table, 30);
  }, 60_000);
  afterAll(async () => {
    proxy?.set({});
    await direct?.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await direct?.query(`DROP FUNCTION IF EXISTS ${table}_slow()`).catch(() => undefined);
    await direct?.end();
    await proxy?.close();
  });

  /** A pg Client (through the proxy or not) and its session, verifying lost COMMITs on a direct pool. */
  async function connect(to: string) {
    const client = new pg.Client({ connectionString: to });
    client.on('error', () => undefined);
    await client.connect();
    const pid = (client as unknown as { processID: number }).processID;
    return { client, session: pgSession(client, { sidecar: direct }), pid };
  }

  async function count(id: number): Promise<number> {
    const { rows } = await direct.query(`SELECT count(*)::int AS c FROM ${table} WHERE id = $1`, [id]);
    return rows[0].c as number;
  }

  it('no id row before the FATAL: COMMIT never ran, a plain connection loss (not ambiguous)', async () => {
    const { client, session, pid } = await connect(proxiedUrl);
    try {
      await session.begin();
      await session.query(`INSERT INTO ${table} (id) VALUES (1)`);
      proxy.set({ holdRequests: true });
      const commit = settle(session.commit());
      await until('the COMMIT batch to be held', () => proxy.heldBytes > 0);
      await terminateBackend(url, pid);
      const error = (await commit) as { code?: string; severity?: string };
      expect(error).toBeInstanceOf(Error);
      expect(isAmbiguousCommitError(error)).toBe(false);
      expect(isCommitInFlight(error)).toBe(false);
      expect(error.code).toBe('57P01');
      expect(session.destroyed).toBe(true);
    } finally {
      proxy.set({});
      await client.end().catch(() => undefined);
    }
    expect(await count(1)).toBe(0);
  });

  it('runner.transaction: retried once and applied exactly once', async () => {
    const pool = new pg.Pool({ connectionString: proxiedUrl, max: 2 });
    pool.on('error', () => undefined);
    const runner = new DbOpRunner({ maxRetries: 3, initialDelayMs: 10 });
    let attempts = 0;
    try {
      await runner.transaction(
        pgPoolSource(pool),
        async (s, attempt) => {
          attempts += 1;
          await s.query(`INSERT INTO ${table} (id) VALUES (2)`);
          if (attempt.attempt !== 1) return;
          const pid = (s.raw as unknown as { processID: number }).processID;
          proxy.set({ holdRequests: true });
          // Once the COMMIT batch is held in the proxy, the backend is told to go; then the bytes flow again.
          void until('the COMMIT batch to be held', () => proxy.heldBytes > 0)
            .then(() => terminateBackend(url, pid))
            .finally(() => proxy.set({}));
        },
        { name: 'orderly-fatal' },
      );
    } finally {
      proxy.set({});
      await pool.end();
    }
    expect(attempts).toBe(2);
    expect(await count(2)).toBe(1);
  });

  it('id row before the FATAL (killed inside COMMIT): looked up and settled, not ambiguous', async () => {
    const { client, session, pid } = await connect(url);
    try {
      await session.begin();
      await session.query(`INSERT INTO ${table} (id, n) VALUES (3, 1)`);
      const commit = settle(session.commit());
      await until('COMMIT to sleep in the deferred trigger', async () => {
        const { rows } = await direct.query('SELECT wait_event FROM pg_stat_activity WHERE pid = $1', [pid]);
        return rows[0]?.wait_event === 'PgSleep';
      });
      await terminateBackend(url, pid);
      const error = (await commit) as { code?: string };
      expect(error).toBeInstanceOf(Error);
      expect(isAmbiguousCommitError(error)).toBe(false);
      expect(error.code).toBe('57P01');
      // Settled by asking the server (txid_status), not inferred: the id row had arrived.
      expect(isVerifiedAbort(error)).toBe(true);
    } finally {
      await client.end().catch(() => undefined);
    }
    expect(await count(3)).toBe(0);
  });
});
