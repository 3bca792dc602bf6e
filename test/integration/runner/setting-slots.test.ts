import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DbOpRunner } from '../../../src/runner/index.js';
import { pgSession } from '../../../src/sessions/pg/index.js';
import { describeIfPostgres, postgresUrl } from '../../support/servers.js';

// A nested step saves the outer lock_timeout in a custom setting (dbop.lock_timeout_<slot>). Postgres keeps
// every custom setting name a backend ever used, so the slot is the nesting depth: names are reused.
describeIfPostgres('saved settings of nested steps on PostgreSQL', () => {
  let client: pg.Client;
  beforeAll(async () => {
    client = new pg.Client({ connectionString: postgresUrl() });
    await client.connect();
  });
  afterAll(() => client.end());

  it('reuse one slot per nesting depth, however many steps ran', async () => {
    const runner = new DbOpRunner({ maxRetries: 0 });
    const session = pgSession(client);
    await runner.transaction(session, async (s) => {
      await s.query("SET LOCAL lock_timeout = '3s'");
      for (let i = 0; i < 30; i++)
        await runner.run(s, (t) => t.query('SELECT 1'), { lockTimeoutMs: 100 + i });
      await runner.run(s, (t) => runner.run(t, (u) => u.query('SELECT 1'), { lockTimeoutMs: 50 }), {
        lockTimeoutMs: 70,
      });
      // The outer value is its own again after all of them.
      expect((await s.query<{ lock_timeout: string }>('SHOW lock_timeout')).rows[0]?.lock_timeout).toBe('3s');
    });
    // A custom setting a backend has seen reads as '' afterwards; one it never saw reads as NULL.
    const { rows } = await client.query<{ slot: number }>(
      "SELECT g AS slot FROM generate_series(1, 40) g WHERE current_setting('dbop.lock_timeout_' || g, true) IS NOT NULL",
    );
    expect(rows.map((r) => r.slot)).toEqual([1, 2]);
  });
});
