import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { execute } from '../../../src/core/execute.js';
import { retryPolicy } from '../../../src/core/retry-policy.js';
import { pgFactory } from '../../../src/pool/factories/pg-factory.js';
import { createPool, type Pool } from '../../../src/pool/pool.js';
import { PoolTimeoutError } from '../../../src/pool/pool-errors.js';
import { describeIfPostgres, postgresUrl } from '../../support/servers.js';
import { connectionSettings } from '../pool/pool-support.js';
import { otelHarness } from './otel-support.js';

describeIfPostgres('OpenTelemetry: the pool metrics of issue 14 over a real pg pool', () => {
  let otel: ReturnType<typeof otelHarness>;
  let pool: Pool<pg.Client>;
  beforeAll(() => {
    otel = otelHarness({ 'db.system.name': 'postgresql' });
    pool = createPool(pgFactory(connectionSettings(postgresUrl()), { driver: pg }) as never, {
      name: 'otel-pool',
      max: 1,
      acquireTimeoutMs: 200,
    }) as Pool<pg.Client>;
  });
  afterAll(async () => {
    await pool.close();
    await otel.stop();
  });

  it('reports connection counts by state, pending requests, wait, create and use times, and timeouts', async () => {
    await pool.use((client) => client.query('SELECT 1'));
    const held = await pool.acquire();
    const pending = pool.acquire().catch((error: unknown) => error);
    // While one caller waits: one connection used, none idle, one request pending.
    const during = (await otel.points()).filter(
      (p) => p.attributes['db.client.connection.pool.name'] === 'otel-pool',
    );
    const value = (name: string, extra: Record<string, string> = {}): number | undefined =>
      during.find((p) => p.name === name && Object.entries(extra).every(([k, v]) => p.attributes[k] === v))
        ?.value;
    expect(value('db.client.connection.count', { 'db.client.connection.state': 'used' })).toBe(1);
    expect(value('db.client.connection.count', { 'db.client.connection.state': 'idle' })).toBe(0);
    expect(value('db.client.connection.pending_requests')).toBe(1);
    expect(await pending).toBeInstanceOf(PoolTimeoutError);
    pool.release(held);
    const after = (await otel.points()).filter(
      (p) => p.attributes['db.client.connection.pool.name'] === 'otel-pool',
    );
    const of = (name: string): { unit: string; value: number } | undefined =>
      after.find((p) => p.name === name);
    expect(of('db.client.connection.timeouts')).toMatchObject({ value: 1 });
    expect(of('db.client.connection.create_time')).toMatchObject({ unit: 's', value: 1 });
    expect(of('db.client.connection.wait_time')).toMatchObject({ unit: 's', value: 2 });
    expect(of('db.client.connection.use_time')).toMatchObject({ unit: 's', value: 2 });
    expect(
      after.find(
        (p) =>
          p.name === 'db.client.connection.count' && p.attributes['db.client.connection.state'] === 'idle',
      )?.value,
    ).toBe(1);
    expect(after.every((p) => p.attributes['db.system.name'] === 'postgresql')).toBe(true);
  });

  it('shows a pool timeout on the attempt span (error.type PoolTimeoutError, code DBOP_POOL_TIMEOUT) and in dbop.errors', async () => {
    const held = await pool.acquire();
    await expect(
      execute(() => pool.use((client) => client.query('SELECT 1')), {
        name: 'report',
        policy: retryPolicy({ maxRetries: 0 }),
      }),
    ).rejects.toBeInstanceOf(PoolTimeoutError);
    pool.release(held);
    const attempt = otel
      .spans()
      .find((s) => s.name !== 'report' && s.attributes['error.type'] === 'PoolTimeoutError');
    expect(attempt?.attributes).toMatchObject({
      'db.response.status_code': 'DBOP_POOL_TIMEOUT',
    });
    const errors = (await otel.points()).find(
      (p) => p.name === 'dbop.errors' && p.attributes['error.type'] === 'PoolTimeoutError',
    );
    expect(errors?.value).toBe(1);
  });
});
