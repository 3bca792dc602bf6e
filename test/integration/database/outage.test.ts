import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import { describeIfPostgres, type PgCluster, startPostgres } from '../../support/servers.js';

const accounts = 10;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Outcome {
  readonly committed: string[];
  readonly failed: unknown[];
}

/**
 * Workers doing transfers with createDatabase's defaults until `stop` resolves. Each transfer has its own id
 * written to a ledger in the same transaction: applied twice would show as two ledger rows.
 */
async function transfers(db: Database, workers: number, stop: Promise<void>): Promise<Outcome> {
  const committed: string[] = [];
  const failed: unknown[] = [];
  let stopping = false;
  void stop.then(() => {
    stopping = true;
  });
  const worker = async (): Promise<void> => {
    while (!stopping) {
      const id = randomUUID();
      const from = 1 + Math.floor(Math.random() * accounts);
      const to = 1 + ((from + Math.floor(Math.random() * (accounts - 1))) % accounts);
      try {
        await db.transaction(async (conn) => {
          await conn.execute('SELECT id FROM account WHERE id IN (:a, :b) ORDER BY id FOR UPDATE', {
            a: from,
            b: to,
          });
          await conn.execute('UPDATE account SET balance = balance - 1 WHERE id = :id', { id: from });
          await conn.execute('UPDATE account SET balance = balance + 1 WHERE id = :id', { id: to });
          await conn.execute('INSERT INTO ledger (id) VALUES (:id)', { id });
        });
        committed.push(id);
      } catch (error) {
        failed.push(error);
      }
      await sleep(5);
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  return { committed, failed };
}

// E16: by default a call rides out a server restart or a short stop: connect refused, the server starting
// up or shutting down, a connection lost with nothing in flight. Before, the 5 default retries (about 1.5 s
// of backoff) ran out during a 3 s stop and transfers failed with ECONNREFUSED.
describeIfPostgres('createDatabase rides out a server outage (private server)', () => {
  let cluster: PgCluster | undefined;
  let db: Database;
  beforeAll(async () => {
    cluster = await startPostgres();
    db = await createDatabase({ url: cluster.primary.url });
    await db.query('CREATE TABLE account (id int PRIMARY KEY, balance int NOT NULL)');
    await db.query('CREATE TABLE ledger (id text NOT NULL)');
  });
  beforeEach(async () => {
    await db.query('TRUNCATE account, ledger');
    await db.query(`INSERT INTO account SELECT g, 1000 FROM generate_series(1, ${accounts}) g`);
  });
  afterAll(async () => {
    await db?.close();
    await cluster?.destroy();
  });

  const check = async ({ committed, failed }: Outcome): Promise<void> => {
    expect(failed.map((e) => (e as { code?: string }).code ?? String(e))).toEqual([]);
    expect(committed.length).toBeGreaterThan(0);
    const total = await db.query<{ total: number }>('SELECT sum(balance)::int AS total FROM account');
    expect(total.rows[0]!.total).toBe(accounts * 1000);
    const ledger = await db.query<{ id: string; n: number }>(
      'SELECT id, count(*)::int AS n FROM ledger GROUP BY id',
    );
    const written = new Map(ledger.rows.map((r) => [r.id, r.n]));
    // Every transfer reported committed is there exactly once; nothing else is.
    expect(committed.filter((id) => written.get(id) !== 1)).toEqual([]);
    expect(written.size).toBe(committed.length);
  };

  it('a 3 s stop and start during a transfer workload: 0 failed, nothing lost or doubled', async () => {
    const fresh = await createDatabase({ url: cluster!.primary.url });
    try {
      let done!: () => void;
      const stop = new Promise<void>((resolve) => {
        done = resolve;
      });
      const running = transfers(fresh, 6, stop);
      await sleep(700);
      await cluster!.primary.stop('fast');
      await sleep(3000);
      await cluster!.primary.start();
      await sleep(700);
      done();
      await check(await running);
    } finally {
      await fresh.close();
    }
  });

  it('pg_ctl restart -m fast during a transfer workload: 0 failed, nothing lost or doubled', async () => {
    const fresh = await createDatabase({ url: cluster!.primary.url });
    try {
      let done!: () => void;
      const stop = new Promise<void>((resolve) => {
        done = resolve;
      });
      const running = transfers(fresh, 6, stop);
      await sleep(700);
      await cluster!.primary.restart();
      await sleep(700);
      done();
      await check(await running);
    } finally {
      await fresh.close();
    }
  });
});
