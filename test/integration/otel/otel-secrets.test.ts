import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import { countDbopErrors } from '../../../src/otel/index.js';
import { describeIfPostgres, type PgCluster, startPostgres } from '../../support/servers.js';
import { everyText, otelHarness } from './otel-support.js';

const password = 'pw-hunter2-SECRET';
const role = `dbop_otel_pw_${process.pid}`;

// Driver connect errors and multi-host failures, with a password in the URL: spans, span events, metric
// attributes, prom-client labels and log lines must never carry it.
describeIfPostgres('dbop/otel secrets over real Postgres connect failures', () => {
  let otel: ReturnType<typeof otelHarness>;
  // The shared servers trust local connections: a private one with a password rule for one role refuses a
  // wrong password (28P01), as production does.
  let cluster: PgCluster;
  let admin: Database;
  beforeAll(async () => {
    cluster = await startPostgres();
    const hba = join(cluster.primary.dataDir, 'pg_hba.conf');
    await writeFile(hba, `host all ${role} 127.0.0.1/32 scram-sha-256\n${await readFile(hba, 'utf8')}`);
    admin = await createDatabase({ url: cluster.primary.url, max: 1 });
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'the-right-one'`);
    await admin.query('SELECT pg_reload_conf()');
  }, 60_000);
  afterAll(async () => {
    await admin?.close();
    await cluster?.destroy();
  });
  beforeEach(() => {
    otel = otelHarness();
  });
  afterEach(async () => {
    await otel.stop();
  });

  it('a wrong password and a multi-host URL with no host up: nothing secret in spans, metrics, labels or logs', async () => {
    const labels: Record<string, string>[] = [];
    const stopCounting = countDbopErrors({ inc: (l) => void labels.push(l) });
    const logs: unknown[] = [];
    const logger = {
      debug: (...a: unknown[]) => void logs.push(a),
      info: (...a: unknown[]) => void logs.push(a),
      warn: (...a: unknown[]) => void logs.push(a),
      error: (...a: unknown[]) => void logs.push(a),
    };
    const wrong = new URL(`postgres://${role}:${password}@127.0.0.1:${cluster.primary.port}/dbop`);
    const closed = `postgres://dbop:${password}@127.0.0.1:1,127.0.0.1:2/dbop`;
    const errors: unknown[] = [];
    try {
      for (const url of [
        wrong.href,
        closed,
        `${wrong.href}${wrong.search ? '&' : '?'}password=${password}`,
      ]) {
        const error = await createDatabase({ url, maxRetries: 1, initialDelayMs: 1, logger })
          .then((db) => db.query('SELECT 1').finally(() => db.close()))
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(Error);
        errors.push(error);
      }
    } finally {
      stopCounting();
    }
    // The failures are the ones meant: the server refused the password; no host of the list answered; a
    // password in a query parameter is refused as a bad URL.
    expect(errors.map((e) => [(e as Error).name, (e as { code?: string }).code])).toEqual([
      ['error', '28P01'],
      ['NoHostAvailableError', 'DBOP_NO_HOST_AVAILABLE'],
      ['DatabaseUrlError', 'DBOP_BAD_URL'],
    ]);
    const spans = otel.spans();
    const points = await otel.points();
    expect(spans.length).toBeGreaterThan(0);
    expect(points.some((p) => p.name === 'dbop.errors')).toBe(true);
    expect(labels.length).toBeGreaterThan(0);
    for (const text of [
      everyText(spans),
      JSON.stringify(points),
      JSON.stringify(labels),
      JSON.stringify(logs, (_k, v) =>
        v instanceof Error ? `${v.name}: ${v.message} ${String(v.stack)}` : v,
      ),
    ]) {
      expect(text).not.toContain('hunter2');
    }
    for (const error of errors) expect(`${String(error)} ${JSON.stringify(error)}`).not.toContain('hunter2');
  });
});
