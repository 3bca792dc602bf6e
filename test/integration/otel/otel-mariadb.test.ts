import { createServer } from 'node:net';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import * as mariadb from 'mariadb';
import { Counter, Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import type { SessionSource } from '../../../src/core/session.js';
import { createDatabase } from '../../../src/database/create-database.js';
import { countDbopErrors, instrumentDbop } from '../../../src/otel/index.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { mariadbSession } from '../../../src/sessions/mariadb/index.js';
import { describeIfMariadb, mariadbUrl } from '../../support/servers.js';
import { barrier } from '../runner/runner-support.js';
import { everyText, otelHarness } from './otel-support.js';

const table = `dbop_otel_maria_${process.pid}`;
const user = `dbop_otel_${process.pid}`;
const password = 'pw-hunter2-SECRET';
const secret = 'param-hunter2-SECRET';

describeIfMariadb('dbop/otel over real MariaDB', () => {
  let admin: mariadb.Pool;
  let pool: mariadb.Pool;
  let source: SessionSource<mariadb.PoolConnection>;
  let otel: ReturnType<typeof otelHarness>;
  // The same server, logged in as a user whose password is a secret the spans must never show.
  const secretUrl = (): string => {
    const url = new URL(mariadbUrl());
    url.username = user;
    url.password = password;
    return url.href;
  };

  beforeAll(async () => {
    const url = new URL(mariadbUrl());
    const connect = { host: url.hostname, port: Number(url.port), database: url.pathname.slice(1) };
    admin = mariadb.createPool({ ...connect, user: 'root', password: decodeURIComponent(url.password) });
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.query(`CREATE TABLE ${table} (id VARCHAR(64) PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB`);
    await admin.query(`CREATE OR REPLACE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
    await admin.query(`GRANT ALL ON ${connect.database}.* TO '${user}'@'%'`);
    pool = mariadb.createPool({ ...connect, user, password, connectionLimit: 4 });
    source = {
      acquire: async () => mariadbSession(await pool.getConnection(), { sidecar: pool }),
      release: async (s) => {
        if (!s.destroyed) await s.raw.release();
      },
    };
  });
  afterAll(async () => {
    await pool?.end();
    await admin?.query(`DROP TABLE IF EXISTS ${table}`);
    await admin?.query(`DROP USER IF EXISTS '${user}'@'%'`);
    await admin?.end();
  });
  beforeEach(async () => {
    otel = otelHarness({ 'db.system.name': 'mariadb' });
    await admin.query(`DELETE FROM ${table}`);
  });
  afterEach(async () => {
    await otel.stop();
  });

  it('a retried deadlock (1213): one operation span, two attempt spans, transaction scope', async () => {
    await admin.query(`INSERT INTO ${table} (id, v) VALUES ('1', 0), ('2', 0)`);
    const runner = new DbOpRunner({ maxRetries: 5, initialDelayMs: 10, maxDelayMs: 50 });
    const meet = barrier(2);
    const transfer = (first: string, second: string) =>
      runner.transaction(
        source,
        async (s, attempt) => {
          await s.query(`UPDATE ${table} SET v = v + 1 WHERE id = ?`, [first]);
          if (attempt.attempt === 1) await meet();
          await s.query(`UPDATE ${table} SET v = v + 1 WHERE id = ?`, [second]);
        },
        { name: 'transfer' },
      );
    await Promise.all([transfer('1', '2'), transfer('2', '1')]);
    const spans = otel.spans();
    const victim = spans.find((s) => s.name === 'transfer' && s.attributes['dbop.attempts'] === 2)!;
    expect(victim.attributes).toMatchObject({ 'db.system.name': 'mariadb', 'dbop.outcome': 'success' });
    const attempts = spans.filter((s) => s.parentSpanContext?.spanId === victim.spanContext().spanId);
    expect(attempts.map((s) => s.attributes['dbop.attempt'])).toEqual([1, 2]);
    expect(attempts[0]!.attributes).toMatchObject({
      'error.type': 'SqlError',
      'db.response.status_code': '1213',
      'dbop.error.kind': 'deadlock',
      'dbop.retry.scope': 'transaction',
      'dbop.retried': true,
    });
    expect(everyText(spans)).not.toContain(password);
  });

  it('secrets: the URL password and parameter values the server echoes never reach a span or a metric', async () => {
    const db = await createDatabase({ url: secretUrl(), maxRetries: 1, initialDelayMs: 1 });
    try {
      await db.query(`INSERT INTO ${table} (id, v) VALUES (?, 1)`, [secret]);
      const duplicate = await db
        .query(`INSERT INTO ${table} (id, v) VALUES (?, 1)`, [secret])
        .catch((e: unknown) => e);
      const badCast = await db
        .query('SELECT CAST(? AS DATE) + INTERVAL x DAY', [secret])
        .catch((e: unknown) => e);
      expect(duplicate).toBeInstanceOf(Error);
      expect(badCast).toBeInstanceOf(Error);
    } finally {
      await db.close();
    }
    const wrong = new URL(secretUrl());
    wrong.password = `${password}-wrong`;
    const denied = await createDatabase({ url: wrong.href, maxRetries: 0 })
      .then((d) => d.query('SELECT 1').finally(() => d.close()))
      .catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(Error);
    const spans = otel.spans();
    const points = await otel.points();
    expect(
      points.some((p) => p.name === 'dbop.errors' && p.attributes['db.response.status_code'] === '1062'),
    ).toBe(true);
    for (const text of [everyText(spans), JSON.stringify(points)]) {
      expect(text).not.toContain('hunter2');
    }
  });

  it('the Prometheus exporter serves dbop_errors_total with class and code over HTTP', async () => {
    const port = await freePort();
    const exporter = new PrometheusExporter({ host: '127.0.0.1', port });
    const meterProvider = new MeterProvider({ readers: [exporter] });
    const instrumentation = instrumentDbop({ meterProvider, traces: false, env: {} });
    try {
      await admin.query(`INSERT INTO ${table} (id, v) VALUES ('dup', 1)`);
      const runner = new DbOpRunner({ maxRetries: 2 });
      await runner
        .transaction(source, (s) => s.query(`INSERT INTO ${table} (id, v) VALUES ('dup', 2)`), {
          name: 'insert',
        })
        .catch(() => undefined);
      const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const line = body.split('\n').find((l) => l.startsWith('dbop_errors_total{'));
      expect(line).toBeDefined();
      expect(line).toContain('error_type="SqlError"');
      expect(line).toContain('db_response_status_code="1062"');
      expect(line).toContain('dbop_error_kind="constraint"');
      expect(line).toMatch(/ 1$/);
      expect(body).toMatch(/^dbop_operations_total\{.*dbop_outcome="error".*\} 1$/m);
    } finally {
      instrumentation.stop();
      await meterProvider.shutdown();
    }
  });

  it('prom-client: countDbopErrors feeds a db_exceptions_total{class, code} counter', async () => {
    const register = new Registry();
    const counter = new Counter({
      name: 'db_exceptions_total',
      help: 'Database errors by class and code',
      labelNames: ['class', 'code', 'kind'],
      registers: [register],
    });
    const stop = countDbopErrors(counter);
    try {
      await admin.query(`INSERT INTO ${table} (id, v) VALUES ('dup', 1)`);
      const runner = new DbOpRunner({ maxRetries: 2 });
      for (let i = 0; i < 2; i++) {
        await runner
          .transaction(source, (s) => s.query(`INSERT INTO ${table} (id, v) VALUES ('dup', 2)`))
          .catch(() => undefined);
      }
    } finally {
      stop();
    }
    const text = await register.metrics();
    expect(text).toContain('db_exceptions_total{class="SqlError",code="1062",kind="constraint"} 2');
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
