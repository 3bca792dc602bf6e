import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { isAmbiguousCommitError } from '../../../src/core/errors.js';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import {
  describeIfMariadb,
  describeIfPostgres,
  type MariadbServer,
  type PgCluster,
  startMariadb,
  startPostgres,
} from '../../support/servers.js';
import { transfersDuring } from '../connect/fixtures/transfer-workload.js';

const accounts = 10;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Outcome {
  readonly committed: string[];
  readonly failed: unknown[];
}

// E16: by default a call rides out a server restart or a short stop: connect refused, the server starting
// up or shutting down, a connection lost with nothing in flight. Before, the 5 default retries (about 1.5 s
// of backoff) ran out during a 3 s stop and transfers failed with ECONNREFUSED.
describeIfPostgres('createDatabase rides out a server outage (private PostgreSQL)', () => {
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

  it('a 3 s stop and start during a transfer workload: 0 failed, nothing lost or doubled', async () => {
    const fresh = await createDatabase({ url: cluster!.primary.url });
    try {
      const outcome = await during(fresh, async () => {
        await cluster!.primary.stop('fast');
        await sleep(3000);
        await cluster!.primary.start();
      });
      await check(db, outcome);
    } finally {
      await fresh.close();
    }
  });

  it('pg_ctl restart -m fast during a transfer workload: 0 failed, nothing lost or doubled', async () => {
    const fresh = await createDatabase({ url: cluster!.primary.url });
    try {
      await check(db, await during(fresh, () => cluster!.primary.restart()));
    } finally {
      await fresh.close();
    }
  });
});

describeIfMariadb('createDatabase rides out a server outage (private MariaDB)', () => {
  let server: MariadbServer | undefined;
  let db: Database;
  beforeAll(async () => {
    server = await startMariadb();
    db = await createDatabase({ url: server.url });
    await db.query('CREATE TABLE account (id int PRIMARY KEY, balance int NOT NULL) ENGINE=InnoDB');
    await db.query('CREATE TABLE ledger (id varchar(36) NOT NULL) ENGINE=InnoDB');
    for (let id = 1; id <= accounts; id++) await db.query('INSERT INTO account VALUES (:id, 1000)', { id });
  });
  afterAll(async () => {
    await db?.close();
    await server?.destroy();
  });

  it('a 3 s stop and start during a transfer workload: 0 failed, nothing lost or doubled', async () => {
    const fresh = await createDatabase({ url: server!.url });
    try {
      const outcome = await during(fresh, async () => {
        await server!.stop();
        await sleep(3000);
        await server!.start();
      });
      // A COMMIT in flight when the server shut down is ambiguous on MySQL-family servers until their
      // commits are verified (issue 9, point 5): allowed here, but never applied twice.
      await check(db, outcome, { ambiguousAllowed: true });
    } finally {
      await fresh.close();
    }
  });
});

/**
 * Six workers doing transfers with createDatabase's defaults; `outage` happens 700 ms in, and the workers
 * stop 700 ms after it. Each transfer writes its own id to a ledger in the same transaction: applied twice
 * would show as two ledger rows.
 */
async function during(db: Database, outage: () => Promise<void>): Promise<Outcome> {
  const { committed, failed } = await transfersDuring(db, outage, 700);
  return { committed: committed.map((c) => c.id), failed };
}

async function check(
  db: Database,
  { committed, failed }: Outcome,
  { ambiguousAllowed = false } = {},
): Promise<void> {
  const unexpected = failed.filter((e) => !(ambiguousAllowed && isAmbiguousCommitError(e)));
  expect(unexpected.map((e) => (e as { code?: string }).code ?? String(e))).toEqual([]);
  expect(committed.length).toBeGreaterThan(0);
  const total = await db.query<{ total: unknown }>('SELECT sum(balance) AS total FROM account');
  expect(Number(total.rows[0]!.total)).toBe(accounts * 1000);
  const ledger = await db.query<{ id: string; n: unknown }>(
    'SELECT id, count(*) AS n FROM ledger GROUP BY id',
  );
  const written = new Map(ledger.rows.map((r) => [r.id, Number(r.n)]));
  // Every transfer reported committed is there exactly once; nothing else is, but an ambiguous one may be.
  expect(committed.filter((id) => written.get(id) !== 1)).toEqual([]);
  expect([...written.values()].every((n) => n === 1)).toBe(true);
  expect(written.size - committed.length).toBeGreaterThanOrEqual(0);
  expect(written.size - committed.length).toBeLessThanOrEqual(failed.length - unexpected.length);
}
