import { afterEach, beforeEach, expect, it } from 'vitest';
import { createDatabase } from '../../../src/database/create-database.js';
import { openPoolStats } from '../../../src/pool/pool.js';
import { describeIfMariadb, mariadbUrl } from '../../support/servers.js';
import { otelHarness } from './otel-support.js';

// mysql:// and mariadb:// URLs are on dbop's pool like every URL: its counts reach the pool metrics, named by
// the Database's (redacted) URL, and are no longer read once the Database is closed.
describeIfMariadb('OpenTelemetry: the pool metrics of a mysql:// or mariadb:// Database (MariaDB)', () => {
  let otel: ReturnType<typeof otelHarness>;
  beforeEach(() => {
    otel = otelHarness();
  });
  afterEach(async () => {
    await otel.stop();
  });

  for (const scheme of ['mysql', 'mariadb'] as const) {
    it(`${scheme}://: connections in use and idle while a transaction holds one`, async () => {
      const url = mariadbUrl().replace(/^[a-z]+:/, `${scheme}:`);
      const db = await createDatabase({ url, max: 2 });
      const name = db.url;
      const counts = async (): Promise<Record<string, number | undefined>> => {
        const points = (await otel.points()).filter(
          (p) => p.attributes['db.client.connection.pool.name'] === name,
        );
        const of = (metric: string, state?: string): number | undefined =>
          points.find(
            (p) =>
              p.name === metric &&
              (state === undefined || p.attributes['db.client.connection.state'] === state),
          )?.value;
        return {
          used: of('db.client.connection.count', 'used'),
          idle: of('db.client.connection.count', 'idle'),
          pending: of('db.client.connection.pending_requests'),
        };
      };
      try {
        await db.query('SELECT 1 AS one');
        let during: Record<string, number | undefined> = {};
        await db.transaction(async (conn) => {
          await conn.execute('SELECT 1 AS one');
          during = await counts();
        });
        expect(during.used).toBe(1);
        expect(during.pending).toBe(0);
        const after = await counts();
        expect(after.used).toBe(0);
        expect(after.idle).toBeGreaterThanOrEqual(1);
      } finally {
        await db.close();
      }
      // Closed: no longer observed.
      expect(openPoolStats().filter((g) => g.name === name)).toEqual([]);
    });
  }
});
