import { PGlite } from '@electric-sql/pglite';
import mysql from 'mysql2/promise';
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../../src/core/session.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { mysql2Session } from '../../../src/sessions/mysql2/index.js';
import { pgSession } from '../../../src/sessions/pg/index.js';
import { pgliteSession } from '../../../src/sessions/pglite/index.js';
import { postgresJsSession } from '../../../src/sessions/postgres-js/index.js';
import { describeIfMariadb, describeIfPostgres, mariadbUrl, postgresUrl } from '../../support/servers.js';
import { sleep } from './runner-support.js';

// The server ended or aborted the transaction, the caller's code swallowed the error and went on:
// transaction() must never report the work committed.
const table = `dbop_ended_${process.pid}`;

describeIfMariadb('MariaDB: a deadlock swallowed inside runner.transaction', () => {
  let pool: mysql.Pool;

  beforeAll(async () => {
    pool = mysql.createPool({ uri: mariadbUrl(), connectionLimit: 4 });
    await pool.query(`DROP TABLE IF EXISTS ${table}, ${table}_ledger, ${table}_heavy`);
    await pool.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB`);
    await pool.query(`CREATE TABLE ${table}_ledger (id INT PRIMARY KEY) ENGINE=InnoDB`);
    await pool.query(`CREATE TABLE ${table}_heavy (id INT PRIMARY KEY) ENGINE=InnoDB`);
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS ${table}, ${table}_ledger, ${table}_heavy`);
    await pool.end();
  });

  it('1213 in a nested run(), swallowed: later statements refuse to run in autocommit, commit throws 1213', async () => {
    await pool.query(`INSERT INTO ${table} VALUES (1, 0), (2, 0)`);
    const other = await pool.getConnection();
    const connection = await pool.getConnection();
    try {
      // The other transaction changes many rows, so InnoDB picks ours (fewer rows) as the deadlock victim.
      await other.query('START TRANSACTION');
      await other.query(`INSERT INTO ${table}_heavy SELECT seq FROM seq_1_to_200`);
      await other.query(`UPDATE ${table} SET v = 1 WHERE id = 2`);
      const session = mysql2Session(connection, { flavor: 'mariadb' });
      const runner = new DbOpRunner({ maxRetries: 0 });
      const seen: unknown[] = [];
      const outcome = await runner
        .transaction(session, async (s) => {
          await s.query(`INSERT INTO ${table}_ledger VALUES (1)`);
          await s.query(`UPDATE ${table} SET v = 1 WHERE id = 1`);
          setTimeout(
            () => void other.query(`UPDATE ${table} SET v = 2 WHERE id = 1`).catch(() => undefined),
            200,
          );
          await runner
            .run(s, (t) => t.query(`UPDATE ${table} SET v = 3 WHERE id = 2`))
            .catch((e) => seen.push(e));
          await s.query(`INSERT INTO ${table}_ledger VALUES (2)`).catch((e) => seen.push(e));
          // Nor may a later step open (and commit) a transaction of its own meanwhile.
          await runner
            .run(s, (t) => t.query(`INSERT INTO ${table}_ledger VALUES (3)`))
            .catch((e) => seen.push(e));
          return 'committed';
        })
        .then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        );
      expect(seen.map((e) => (e as { errno?: number }).errno)).toEqual([1213, 1213, 1213]);
      expect((outcome as { error?: { errno?: number } }).error?.errno).toBe(1213);
      await other.query('ROLLBACK');
      const [rows] = await pool.query(`SELECT id FROM ${table}_ledger`);
      expect(rows).toEqual([]);
      expect(session.inTransaction()).toBe(false);
      // The session is usable again once the owner ended the transaction.
      await runner.run(session, (s) => s.query(`INSERT INTO ${table}_ledger VALUES (9)`));
      const [after] = await pool.query(`SELECT id FROM ${table}_ledger`);
      expect(after).toEqual([{ id: 9 }]);
    } finally {
      other.release();
      connection.release();
    }
  });

  it('a deadlock the step swallowed: the retry commits, and the session settings dbop changed come back', async () => {
    await pool.query(`DELETE FROM ${table}`);
    await pool.query(`DELETE FROM ${table}_heavy`);
    await pool.query(`INSERT INTO ${table} VALUES (1, 0), (2, 0)`);
    const other = await pool.getConnection();
    const connection = await pool.getConnection();
    try {
      const [[before]] = (await connection.query(
        'SELECT @@SESSION.innodb_lock_wait_timeout AS t',
      )) as unknown as [[{ t: number }]];
      const session = mysql2Session(connection, { flavor: 'mariadb' });
      const runner = new DbOpRunner({
        maxRetries: 2,
        initialDelayMs: 1,
        maxDelayMs: 1,
        defaultLockTimeoutMs: 7000,
      });
      let swallowed: unknown;
      await runner.transaction(session, async (s, context) => {
        if (context.attempt > 1) return;
        await s.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`);
        // The other transaction changes many rows, so InnoDB picks ours as the deadlock victim.
        await other.query('START TRANSACTION');
        await other.query(`INSERT INTO ${table}_heavy SELECT seq FROM seq_1_to_200`);
        await other.query(`UPDATE ${table} SET v = v + 1 WHERE id = 2`);
        const blocked = other.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`).catch((e: unknown) => e);
        await sleep(200);
        await s.query(`UPDATE ${table} SET v = v + 1 WHERE id = 2`).catch((e: unknown) => {
          swallowed = e;
        });
        await blocked;
        await other.query('ROLLBACK');
      });
      expect((swallowed as { errno?: number }).errno).toBe(1213);
      const [[after]] = (await connection.query(
        'SELECT @@SESSION.innodb_lock_wait_timeout AS t',
      )) as unknown as [[{ t: number }]];
      expect(Number(after.t)).toBe(Number(before.t));
    } finally {
      connection.release();
      other.release();
    }
  });
});

/** A transaction whose body swallows a real server error: Postgres aborts it and COMMIT answers ROLLBACK. */
async function swallowedConstraint(session: Session, name: string): Promise<unknown> {
  await session.query(`CREATE TABLE IF NOT EXISTS ${name} (id INT PRIMARY KEY)`);
  await session.query(`DELETE FROM ${name}`);
  await session.query(`INSERT INTO ${name} VALUES (1)`);
  const runner = new DbOpRunner({ maxRetries: 2, initialDelayMs: 1 });
  let attempts = 0;
  const error = await runner
    .transaction(session, async (s) => {
      attempts += 1;
      await s.query(`INSERT INTO ${name} VALUES (2)`);
      await s.query(`INSERT INTO ${name} VALUES (1)`).catch(() => 'swallowed');
      return 'committed';
    })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  const { rows } = await session.query(`SELECT id FROM ${name} ORDER BY id`);
  await session.query(`DROP TABLE ${name}`);
  expect(attempts).toBe(1);
  expect(rows.map((r) => Number(r.id))).toEqual([1]);
  expect(session.inTransaction()).toBe(false);
  return error;
}

describeIfPostgres('Postgres: an error swallowed inside runner.transaction aborts it', () => {
  it('pg: transaction() rejects with the error that aborted it, not a silent ROLLBACK', async () => {
    const client = new pg.Client({ connectionString: postgresUrl() });
    await client.connect();
    try {
      const error = await swallowedConstraint(pgSession(client), `${table}_pg`);
      expect((error as { code?: string }).code).toBe('23505');
    } finally {
      await client.end();
    }
  });

  it('postgres.js: the same, also when the commit carries statements before COMMIT', async () => {
    const sql = postgres(postgresUrl(), { max: 1, onnotice: () => undefined });
    const reserved = await sql.reserve();
    try {
      const error = await swallowedConstraint(postgresJsSession(reserved), `${table}_js`);
      expect((error as { code?: string }).code).toBe('23505');
      // A read-only nested step restores settings before RELEASE; the owned commit has none: exercise the
      // batch form (restore statements before COMMIT) through the session directly.
      const session = postgresJsSession(reserved);
      await session.begin();
      await session.query('SELECT 1/0').catch(() => undefined);
      const failed = await session
        .commit({ alsoRun: ["SELECT set_config('lock_timeout', '0', true)"] })
        .catch((e: unknown) => e);
      expect((failed as { code?: string }).code).toBe('22012');
      expect(await session.probeTransaction?.()).toBe(true);
      await session.rollback();
      expect(await session.probeTransaction?.()).toBe(false);
    } finally {
      reserved.release();
      await sql.end();
    }
  });
});

describe('PGlite: an error swallowed inside runner.transaction aborts it', () => {
  it('transaction() rejects with the error that aborted it', async () => {
    const db = await PGlite.create();
    try {
      const error = await swallowedConstraint(pgliteSession(db), `${table}_lite`);
      expect((error as { code?: string }).code).toBe('23505');
    } finally {
      await db.close();
    }
  });
});
