import { afterEach, beforeEach, expect, it } from 'vitest';
import { parseDsn } from '../../../src/connect/parse-dsn.js';
import { createDatabase } from '../../../src/database/create-database.js';
import { describeIfMariadb, describeIfPostgres, mariadbUrl, postgresUrl } from '../../support/servers.js';
import { everyText, otelHarness } from './otel-support.js';

// What the spans and metrics of a Database's operations say about where they ran, from its URL alone: no
// `attributes` option. The expected values come from the same URL, parsed. The system is the URL's: a
// mysql:// URL says mysql even when the server is MariaDB (the test's MariaDB URL may be either scheme).
function systemOf(url: string): string {
  const { backend } = parseDsn(url);
  return backend === 'postgres' ? 'postgresql' : backend;
}

function expectedTarget(url: string): Record<string, unknown> {
  const dsn = parseDsn(url);
  const host = dsn.hosts![0]!;
  return {
    'db.system.name': systemOf(url),
    'db.namespace': dsn.database,
    'server.address': host.host,
    'server.port': host.port,
  };
}

for (const [label, describeIf, url] of [
  ['Postgres', describeIfPostgres, postgresUrl],
  ['MariaDB', describeIfMariadb, mariadbUrl],
] as const) {
  describeIf(`dbop/otel: a Database's operations name their target (${label})`, () => {
    let otel: ReturnType<typeof otelHarness>;
    beforeEach(() => {
      otel = otelHarness();
    });
    afterEach(async () => {
      await otel.stop();
    });

    it('db.system.name, db.namespace, server.address and server.port on the operation and attempt spans and the metrics', async () => {
      const db = await createDatabase({ url: url(), max: 2 });
      try {
        await db.query('SELECT 1 AS one', { name: 'probe' });
        await db.transaction((conn) => conn.execute('SELECT 1 AS one'), { name: 'tx' });
        await expect(
          db.query('SELECT * FROM dbop_no_such_table_otel', { name: 'missing' }),
        ).rejects.toThrow();
      } finally {
        await db.close();
      }
      const want = expectedTarget(url());
      expect(want['db.namespace']).toBeTruthy();
      const spans = otel.spans();
      for (const name of ['probe', 'tx']) {
        const operation = spans.find((s) => s.name === name);
        expect(operation?.attributes).toMatchObject(want);
        const attempt = spans.find((s) => s.name === `${name} attempt`);
        expect(attempt?.attributes).toMatchObject(want);
      }
      const points = await otel.points();
      const operations = points.filter((p) => p.name === 'dbop.operations');
      expect(operations.length).toBeGreaterThan(0);
      for (const p of operations) expect(p.attributes).toMatchObject(want);
      const errors = points.filter((p) => p.name === 'dbop.errors');
      expect(errors.length).toBeGreaterThan(0);
      for (const p of errors) expect(p.attributes).toMatchObject(want);
      // The user and the password are not part of it.
      const user = parseDsn(url()).user;
      if (user !== undefined && user.length > 3) expect(everyText(spans)).not.toContain(`${user}@`);
    });

    it("the instrumentation's own attributes win over the URL's", async () => {
      await otel.stop();
      otel = otelHarness({ 'db.namespace': 'billing' });
      const db = await createDatabase({ url: url(), max: 1 });
      try {
        await db.query('SELECT 1 AS one', { name: 'probe' });
      } finally {
        await db.close();
      }
      const operation = otel.spans().find((s) => s.name === 'probe');
      expect(operation?.attributes['db.namespace']).toBe('billing');
      expect(operation?.attributes['db.system.name']).toBe(systemOf(url()));
    });
  });
}
