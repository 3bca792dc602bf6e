import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGalera } from '../../support/harness/galera.js';
import {
  describeIfMariadb,
  describeIfPostgres,
  mariadbUrl,
  type PgCluster,
  sharedServers,
  startPostgres,
} from '../../support/servers.js';

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describeIfPostgres('test harness: shared PostgreSQL primary and standbys', () => {
  it('streams a row written on the primary to both standbys, which refuse writes', async () => {
    const { primary, standbys } = sharedServers().postgres!;
    expect(standbys).toHaveLength(2);
    const marker = `harness-${process.pid}-${Date.now()}`;
    await withClient(primary.url, async (c) => {
      await c.query('CREATE TABLE IF NOT EXISTS harness_rows (marker text PRIMARY KEY)');
      await c.query('INSERT INTO harness_rows VALUES ($1)', [marker]);
    });
    for (const standby of standbys) {
      await withClient(standby.url, async (c) => {
        expect((await c.query('SELECT pg_is_in_recovery() AS r')).rows[0].r).toBe(true);
        const seen = await eventually(async () => {
          const { rowCount } = await c.query('SELECT 1 FROM harness_rows WHERE marker = $1', [marker]);
          return rowCount === 1 ? true : undefined;
        });
        expect(seen).toBe(true);
        await expect(c.query('INSERT INTO harness_rows VALUES ($1)', ['x'])).rejects.toMatchObject({
          code: '25006',
        });
      });
    }
  });
});

describeIfPostgres('test harness: private cluster faults', () => {
  let cluster: PgCluster;
  beforeAll(async () => {
    cluster = await startPostgres({ standbys: 1 });
  });
  afterAll(() => cluster?.destroy());

  it('promotes a standby, which then accepts writes', async () => {
    const standby = cluster.standbys[0]!;
    await withClient(cluster.primary.url, (c) => c.query('CREATE TABLE t (id int)'));
    await eventually(() =>
      withClient(standby.url, async (c) =>
        (await c.query("SELECT to_regclass('t') AS t")).rows[0].t ? true : undefined,
      ),
    );
    await standby.promote();
    await withClient(standby.url, async (c) => {
      await c.query('INSERT INTO t VALUES (1)');
      expect((await c.query('SELECT pg_is_in_recovery() AS r')).rows[0].r).toBe(false);
      expect((await c.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(1);
    });
  });

  it('kills the primary with SIGKILL, refuses connections, and recovers on start', async () => {
    const { primary } = cluster;
    await primary.kill9();
    await expect(withClient(primary.url, (c) => c.query('SELECT 1'))).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    await primary.start();
    const n = await withClient(
      primary.url,
      async (c) => (await c.query('SELECT count(*)::int AS n FROM t')).rows[0].n,
    );
    expect(n).toBe(0);
  });
});

describeIfMariadb('test harness: private MariaDB', () => {
  it('runs a real transaction: a rollback discards, a commit keeps', async () => {
    const conn = await mysql.createConnection(mariadbUrl());
    try {
      const table = `harness_tx_${process.pid}`;
      await conn.query(`CREATE TABLE IF NOT EXISTS ${table} (id int PRIMARY KEY) ENGINE=InnoDB`);
      await conn.query(`DELETE FROM ${table}`);
      await conn.beginTransaction();
      await conn.query(`INSERT INTO ${table} VALUES (1)`);
      await conn.rollback();
      await conn.beginTransaction();
      await conn.query(`INSERT INTO ${table} VALUES (2)`);
      await conn.commit();
      const [rows] = await conn.query(`SELECT id FROM ${table} ORDER BY id`);
      expect(rows).toEqual([{ id: 2 }]);
      const [[version]] = (await conn.query('SELECT VERSION() AS v')) as unknown as [[{ v: string }]];
      expect(version.v).toMatch(/MariaDB/);
    } finally {
      await conn.end();
    }
  });
});

describe.skipIf(process.env.DBOP_GALERA !== '1')('test harness: Galera cluster (DBOP_GALERA=1)', () => {
  it('replicates a write on one node to the other two', async () => {
    const cluster = await startGalera(3);
    try {
      const conns = await Promise.all(cluster.nodes.map((n) => mysql.createConnection(n.url)));
      try {
        await conns[0]!.query('CREATE TABLE g (id int PRIMARY KEY) ENGINE=InnoDB');
        await conns[1]!.query('INSERT INTO g VALUES (7)');
        for (const conn of conns) {
          const [rows] = await conn.query('SELECT id FROM g');
          expect(rows).toEqual([{ id: 7 }]);
        }
        const [[size]] = (await conns[2]!.query("SHOW STATUS LIKE 'wsrep_cluster_size'")) as unknown as [
          [{ Value: string }],
        ];
        expect(size.Value).toBe('3');
      } finally {
        await Promise.all(conns.map((c) => c.end()));
      }
    } finally {
      await cluster.destroy();
    }
  }, 120_000);
});
