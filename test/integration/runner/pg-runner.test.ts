import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { attemptScope } from '../../../src/core/attempt-scope.js';
import { isAttemptTimeoutError } from '../../../src/core/errors.js';
import { execute } from '../../../src/core/execute.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { pgPoolSource, pgSession } from '../../../src/sessions/pg/index.js';
import { describeIfPostgres, postgresUrl } from '../../support/servers.js';
import { barrier, recordingLogger, sleep } from './runner-support.js';

const table = `dbop_runner_pg_${process.pid}`;

describeIfPostgres('DbOpRunner on PostgreSQL (node-postgres)', () => {
  let pool: pg.Pool;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: postgresUrl(), max: 6 });
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v INT NOT NULL)`);
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.end();
  });
  const reset = async (...ids: number[]) => {
    await pool.query(`DELETE FROM ${table}`);
    for (const id of ids) await pool.query(`INSERT INTO ${table} (id, v) VALUES ($1, 0)`, [id]);
  };
  const value = async (id: number) =>
    Number((await pool.query(`SELECT v FROM ${table} WHERE id = $1`, [id])).rows[0]?.v);

  it('a deadlock between two runners resolves with both writes applied (40P01 escalated from run() to transaction())', async () => {
    await reset(1, 2);
    const logger = recordingLogger();
    const runner = new DbOpRunner({ maxRetries: 5, initialDelayMs: 10, maxDelayMs: 50, logger });
    const meet = barrier(2);
    const transfer = (first: number, second: number) =>
      runner.transaction(
        pgPoolSource(pool),
        async (s, attempt) => {
          await runner.run(s, (t) => t.query(`UPDATE ${table} SET v = v + 1 WHERE id = $1`, [first]), {
            name: 'first',
          });
          if (attempt.attempt === 1) await meet();
          await runner.run(s, (t) => t.query(`UPDATE ${table} SET v = v + 1 WHERE id = $1`, [second]), {
            name: 'second',
          });
        },
        { name: `transfer-${first}` },
      );
    await Promise.all([transfer(1, 2), transfer(2, 1)]);
    expect(await value(1)).toBe(2);
    expect(await value(2)).toBe(2);
    const deadlocks = logger.records.filter((r) => r.object.kind === 'deadlock');
    // The victim's step gave up at once (escalated, error level), its transaction retried (warn level).
    expect(deadlocks.some((r) => r.level === 'error' && r.message === 'second failed')).toBe(true);
    expect(deadlocks.some((r) => r.level === 'warn' && r.message.startsWith('transfer-'))).toBe(true);
    expect(deadlocks.every((r) => r.object.dialect === 'postgres' && r.object.code === '40P01')).toBe(true);
  });

  it('a step hitting lock_timeout inside an outer transaction retries in its savepoint; earlier writes survive and commit', async () => {
    await reset(2);
    const holder = await pool.connect();
    const client = await pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT * FROM ${table} WHERE id = 2 FOR UPDATE`);
      const logger = recordingLogger();
      const runner = new DbOpRunner({
        maxRetries: 10,
        initialDelayMs: 50,
        maxDelayMs: 100,
        jitter: 'none',
        logger,
      });
      const s = pgSession(client, { sidecar: pool });
      await s.begin();
      await s.query("SET LOCAL lock_timeout = '7s'");
      await s.query(`INSERT INTO ${table} (id, v) VALUES (10, 10)`);
      setTimeout(() => void holder.query('COMMIT'), 400);
      await runner.run(s, (t) => t.query(`UPDATE ${table} SET v = 5 WHERE id = 2`), {
        name: 'bump',
        lockTimeoutMs: 50,
      });
      expect((await s.query<{ v: string }>("SELECT current_setting('lock_timeout') AS v")).rows[0]!.v).toBe(
        '7s',
      );
      await s.commit();
      const lockTimeouts = logger.records.filter((r) => r.object.kind === 'lock-timeout');
      expect(lockTimeouts.length).toBeGreaterThan(0);
      expect(lockTimeouts.every((r) => r.level === 'warn' && r.object.code === '55P03')).toBe(true);
      expect(
        logger.records.some(
          (r) => r.level === 'info' && r.message === 'bump done' && r.object.dialect === 'postgres',
        ),
      ).toBe(true);
      expect(await value(10)).toBe(10);
      expect(await value(2)).toBe(5);
    } finally {
      holder.release();
      client.release();
    }
  });

  it('SERIALIZABLE write-skew conflicts under runner.transaction converge', async () => {
    await reset();
    const runner = new DbOpRunner({ maxRetries: 8, initialDelayMs: 5, maxDelayMs: 40 });
    const meet = barrier(3);
    const logger = recordingLogger();
    const logged = new DbOpRunner({ maxRetries: 8, initialDelayMs: 5, maxDelayMs: 40, logger });
    const worker = (id: number, r: DbOpRunner) =>
      r.transaction(
        pgPoolSource(pool),
        async (s, attempt) => {
          const { rows } = await s.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${table}`);
          if (attempt.attempt === 1) await meet();
          await s.query(`INSERT INTO ${table} (id, v) VALUES ($1, $2)`, [id, Number(rows[0]!.n)]);
        },
        { isolationLevel: 'serializable', name: `skew-${id}` },
      );
    await Promise.all([worker(1, logged), worker(2, runner), worker(3, runner)]);
    const { rows } = await pool.query(`SELECT v FROM ${table} ORDER BY v`);
    // Serializable outcome: each insert saw all the ones before it.
    expect(rows.map((r) => Number(r.v))).toEqual([0, 1, 2]);
  });

  it('a read-only step followed by a write in the same transaction works', async () => {
    await reset(1);
    const client = await pool.connect();
    try {
      const runner = new DbOpRunner();
      const s = pgSession(client);
      await s.begin();
      const n = await runner.run(
        s,
        async (t) => (await t.query(`SELECT v FROM ${table} WHERE id = 1`)).rows[0]!.v,
        {
          readOnly: true,
        },
      );
      expect(
        (await s.query<{ transaction_read_only: string }>('SHOW transaction_read_only')).rows[0]!
          .transaction_read_only,
      ).toBe('off');
      await runner.run(s, (t) => t.query(`UPDATE ${table} SET v = $1 WHERE id = 1`, [Number(n) + 7]));
      await s.commit();
      expect(await value(1)).toBe(7);
    } finally {
      client.release();
    }
  });

  it('pooled connections come back clean after success, failure and attempt timeout', async () => {
    await reset(1);
    const single = new pg.Pool({ connectionString: postgresUrl(), max: 1 });
    const sidecar = new pg.Pool({ connectionString: postgresUrl(), max: 1 });
    const runner = new DbOpRunner({ maxRetries: 0, defaultStatementTimeoutMs: 4000 });
    const check = async () => {
      const client = await single.connect();
      try {
        expect(client.getTransactionStatus()).toBe('I');
        const { rows } = await client.query(
          "SELECT current_setting('lock_timeout') AS l, current_setting('statement_timeout') AS s, current_setting('transaction_read_only') AS r",
        );
        expect(rows[0]).toEqual({ l: '0', s: '0', r: 'off' });
      } finally {
        client.release();
      }
    };
    const withSession = async <T>(fn: (s: ReturnType<typeof pgSession>) => Promise<T>) => {
      const client = await single.connect();
      const s = pgSession(client, { sidecar });
      try {
        return await fn(s);
      } finally {
        client.release(s.destroyed);
      }
    };
    try {
      await withSession((s) =>
        runner.run(s, (t) => t.query(`UPDATE ${table} SET v = 1 WHERE id = 1`), { readOnly: false }),
      );
      await check();
      await withSession((s) =>
        expect(runner.run(s, (t) => t.query('SELECT * FROM no_such_table_dbop'))).rejects.toMatchObject({
          code: '42P01',
        }),
      );
      await check();
      const started = Date.now();
      await withSession(async (s) => {
        const error = await runner
          .run(s, (t) => t.query('SELECT pg_sleep(10)'), { attemptTimeoutMs: 200 })
          .catch((e) => e);
        // dbop's timer normally wins; on a loaded host the server's backstop statement_timeout may come first.
        expect(isAttemptTimeoutError(error) || error?.code === '57014', String(error)).toBe(true);
      });
      // pg_sleep(10) was cancelled, not waited out; 8 s still tells the two apart on a loaded machine.
      expect(Date.now() - started).toBeLessThan(8000);
      await check();
    } finally {
      await single.end();
      await sidecar.end();
    }
  });

  it('after a step with lockTimeoutMs 50 and a failing step, the outer transaction keeps its own lock_timeout', async () => {
    const client = await pool.connect();
    try {
      const runner = new DbOpRunner({ maxRetries: 0 });
      const s = pgSession(client);
      await s.begin();
      await s.query("SET LOCAL lock_timeout = '3s'");
      await runner.run(s, (t) => t.query('SELECT 1'), { lockTimeoutMs: 50 });
      await runner
        .run(s, () => Promise.reject(new Error('nope')), { lockTimeoutMs: 50 })
        .catch(() => undefined);
      const { rows } = await s.query("SELECT current_setting('lock_timeout') AS v");
      expect(rows[0]!.v).toBe('3s');
      await s.rollback();
    } finally {
      client.release();
    }
    await sleep(0);
  });

  it('a short transaction with a lock timeout costs three round trips (BEGIN and the timeout share one)', async () => {
    await reset(1);
    const client = await pool.connect();
    const sent: string[] = [];
    const query = client.query.bind(client) as (text: string, values?: unknown[]) => Promise<unknown>;
    const counting = Object.assign(Object.create(client), {
      query: (text: string, values?: unknown[]) => {
        sent.push(text);
        return query(text, values);
      },
    }) as pg.PoolClient;
    try {
      const runner = new DbOpRunner({ defaultLockTimeoutMs: 10_000 });
      await runner.transaction(pgSession(counting), (s) =>
        s.query(`UPDATE ${table} SET v = v + 1 WHERE id = $1`, [1]),
      );
      expect(sent).toEqual([
        'BEGIN;\nSET LOCAL lock_timeout = 10000',
        `UPDATE ${table} SET v = v + 1 WHERE id = $1`,
        'COMMIT',
      ]);
      expect(await value(1)).toBe(1);
    } finally {
      client.release();
    }
  });

  it('a connection whose state is unknown after a timeout (no cancel, cleanup too slow) is destroyed, not reused', async () => {
    const single = new pg.Pool({ connectionString: postgresUrl(), max: 1 });
    single.on('error', () => undefined);
    const client = await single.connect();
    const firstPid = (client as unknown as { processID: number }).processID;
    const s = pgSession(client); // no sidecar: nothing can cancel the statement
    const error = await execute(() => s.query('SELECT pg_sleep(5)'), {
      scope: () => attemptScope(s, { cleanupTimeoutMs: 20, statementTimeoutMs: 5000 }),
      attemptTimeoutMs: 100,
      policy: { maxRetries: 0 },
    }).catch((e: unknown) => e);
    expect(isAttemptTimeoutError(error)).toBe(true);
    expect(s.destroyed).toBe(true);
    await expect(s.query('SELECT 1')).rejects.toMatchObject({ code: 'DBOP_SESSION_DESTROYED' });
    client.release(s.destroyed);
    const next = await single.connect();
    try {
      expect((next as unknown as { processID: number }).processID).not.toBe(firstPid);
      expect((await next.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      next.release();
      await single.end();
    }
  });

  it('an attempt that times out while the pool is still handing out its connection leaves nothing checked out or open', async () => {
    const single = new pg.Pool({ connectionString: postgresUrl(), max: 1 });
    const holder = await single.connect();
    try {
      setTimeout(() => holder.release(), 300);
      const runner = new DbOpRunner({ maxRetries: 0 });
      const error = await runner
        .transaction(pgPoolSource(single), (s) => s.query('SELECT 1'), { attemptTimeoutMs: 100 })
        .catch((e: unknown) => e);
      expect(isAttemptTimeoutError(error)).toBe(true);
      await sleep(400);
      // The late connection went straight back: idle, no transaction, and the pool serves the next caller.
      expect(single.idleCount).toBe(1);
      const next = await single.connect();
      try {
        expect((await next.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
        expect((next as unknown as { getTransactionStatus(): string }).getTransactionStatus()).toBe('I');
      } finally {
        next.release();
      }
    } finally {
      await single.end();
    }
  });
});
