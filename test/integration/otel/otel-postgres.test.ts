import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import type { AttemptContext } from '../../../src/core/attempt.js';
import { isAmbiguousCommitError } from '../../../src/core/errors.js';
import type { Session, SessionSource } from '../../../src/core/session.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { pgPoolSource, pgSession } from '../../../src/sessions/pg/index.js';
import { describeIfPostgres, postgresUrl, terminateBackend } from '../../support/servers.js';
import { barrier, sleep } from '../runner/runner-support.js';
import { everyText, otelHarness } from './otel-support.js';

const table = `dbop_otel_pg_${process.pid}`;
const secret = 'hunter2-SECRET';

describeIfPostgres('dbop/otel over real Postgres', () => {
  let pool: pg.Pool;
  let otel: ReturnType<typeof otelHarness>;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: postgresUrl(), max: 6 });
    pool.on('error', () => undefined);
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v INT NOT NULL DEFAULT 0)`);
    // A deferred constraint trigger that sleeps inside COMMIT when v = 1, so the backend can be killed there.
    await pool.query(`CREATE OR REPLACE FUNCTION ${table}_slow() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.v = 1 THEN PERFORM pg_sleep(2); END IF; RETURN NULL; END $$`);
    await pool.query(`CREATE CONSTRAINT TRIGGER ${table}_slow AFTER INSERT ON ${table}
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ${table}_slow()`);
  });
  afterAll(async () => {
    await pool?.query(`DROP TABLE IF EXISTS ${table}`);
    await pool?.query(`DROP FUNCTION IF EXISTS ${table}_slow()`);
    await pool?.end();
  });
  beforeEach(async () => {
    otel = otelHarness({ 'db.system.name': 'postgresql', 'db.namespace': 'dbop' });
    await pool.query(`DELETE FROM ${table}`);
  });
  afterEach(async () => {
    await otel.stop();
  });

  it('a retried deadlock (40P01): one operation span with two attempt spans, and the error counted', async () => {
    await pool.query(`INSERT INTO ${table} (id) VALUES (1), (2)`);
    const runner = new DbOpRunner({ maxRetries: 5, initialDelayMs: 10, maxDelayMs: 50 });
    const meet = barrier(2);
    const transfer = (first: number, second: number) =>
      runner.transaction(
        pgPoolSource(pool),
        async (s, attempt) => {
          await s.query(`UPDATE ${table} SET v = v + 1 WHERE id = $1`, [first]);
          if (attempt.attempt === 1) await meet();
          await s.query(`UPDATE ${table} SET v = v + 1 WHERE id = $1`, [second]);
        },
        { name: `transfer-${first}` },
      );
    await Promise.all([transfer(1, 2), transfer(2, 1)]);

    const spans = otel.spans();
    const operations = spans.filter(
      (s) => s.name.startsWith('transfer-') && s.parentSpanContext === undefined,
    );
    expect(operations).toHaveLength(2);
    const victim = operations.find((s) => s.attributes['dbop.attempts'] === 2)!;
    expect(victim).toBeDefined();
    expect(victim.attributes).toMatchObject({
      'db.system.name': 'postgresql',
      'db.namespace': 'dbop',
      'db.operation.name': victim.name,
      'dbop.outcome': 'success',
      'dbop.attempts': 2,
    });
    expect(victim.status.code).toBe(0); // UNSET: the call succeeded in the end
    const attempts = spans.filter((s) => s.parentSpanContext?.spanId === victim.spanContext().spanId);
    expect(attempts.map((s) => s.attributes['dbop.attempt'])).toEqual([1, 2]);
    expect(attempts.every((s) => s.spanContext().traceId === victim.spanContext().traceId)).toBe(true);
    expect(attempts[0]!.attributes).toMatchObject({
      'error.type': 'DatabaseError',
      'db.response.status_code': '40P01',
      'dbop.error.kind': 'deadlock',
      'dbop.retry.scope': 'transaction',
      'dbop.retried': true,
    });
    expect(attempts[0]!.status).toEqual({ code: 2, message: 'deadlock 40P01' });
    expect(attempts[1]!.attributes['error.type']).toBeUndefined();
    expect(victim.events.find((e) => e.name === 'dbop.retry')?.attributes).toMatchObject({
      'dbop.attempt': 1,
      'dbop.error.kind': 'deadlock',
    });

    const points = await otel.points();
    const sum = (name: string, match: Record<string, unknown>) =>
      points
        .filter((p) => p.name === name && Object.entries(match).every(([k, v]) => p.attributes[k] === v))
        .reduce((n, p) => n + p.value, 0);
    expect(sum('dbop.operations', { 'dbop.outcome': 'success' })).toBe(2);
    expect(sum('dbop.attempts', {})).toBe(3);
    expect(sum('dbop.errors', { 'db.response.status_code': '40P01', 'dbop.error.kind': 'deadlock' })).toBe(1);
    expect(sum('dbop.errors', { 'error.type': 'DatabaseError' })).toBe(1);
    expect(sum('dbop.operation.duration', {})).toBe(2);
    expect(points.find((p) => p.name === 'dbop.operation.duration')?.unit).toBe('s');
  });

  it('an ambiguous commit (backend killed inside COMMIT, no way to verify) is visible on both spans', async () => {
    const blind: SessionSource<pg.PoolClient> = {
      acquire: async () => pgSession(await pool.connect()),
      release: async (s) => s.raw.release(s.destroyed || s.inTransaction()),
    };
    const runner = new DbOpRunner({ maxRetries: 3, initialDelayMs: 10 });
    const error = await runner
      .transaction(
        blind,
        async (s: Session<pg.PoolClient>, attempt: AttemptContext) => {
          await s.query(`INSERT INTO ${table} (id, v) VALUES ($1, $2)`, [4, attempt.attempt === 1 ? 1 : 0]);
          const pid = (s.raw as unknown as { processID: number }).processID;
          void killWhilePgSleep(pid);
        },
        { name: 'blind-commit' },
      )
      .catch((e: unknown) => e);
    expect(isAmbiguousCommitError(error)).toBe(true);
    const spans = otel.spans();
    const operation = spans.find((s) => s.name === 'blind-commit')!;
    expect(operation.attributes).toMatchObject({
      'dbop.ambiguous': true,
      'dbop.outcome': 'error',
      'dbop.attempts': 1,
    });
    expect(operation.status.code).toBe(2);
    const attempt = spans.find((s) => s.parentSpanContext?.spanId === operation.spanContext().spanId)!;
    expect(attempt.attributes).toMatchObject({ 'dbop.ambiguous': true, 'dbop.retried': false });
    const points = await otel.points();
    expect(points.some((p) => p.name === 'dbop.errors' && p.attributes['dbop.ambiguous'] === true)).toBe(
      true,
    );
  });

  it('a secret parameter in a failing statement: the server echoes it in its message, no span shows it', async () => {
    const runner = new DbOpRunner({ maxRetries: 1, initialDelayMs: 1 });
    const error = await runner
      .transaction(pgPoolSource(pool), (s) => s.query('SELECT $1::int AS n', [secret]), { name: 'cast' })
      .catch((e: unknown) => e);
    // The driver's own message carries the value: the test only means something if it does.
    expect(String((error as Error).message)).toContain(secret);
    const spans = otel.spans();
    expect(spans.find((s) => s.name === 'cast')?.attributes['db.response.status_code']).toBe('22P02');
    expect(everyText(spans)).not.toContain(secret);
    expect(JSON.stringify(await otel.points())).not.toContain(secret);
  });

  async function killWhilePgSleep(pid: number): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const { rows } = await pool.query('SELECT wait_event FROM pg_stat_activity WHERE pid = $1', [pid]);
      if (rows[0]?.wait_event === 'PgSleep') return terminateBackend(postgresUrl(), pid);
      await sleep(20);
    }
  }
});
