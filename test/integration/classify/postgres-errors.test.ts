import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify } from '../../../src/dialects/classify.js';
import { describeIfPostgres, sharedServers } from '../../support/servers.js';
import {
  connectPg,
  failure,
  postgresDrivers,
  uniqueName,
  waitUntilBlocked,
  withConnections,
} from './drivers.js';

describeIfPostgres('classify: errors PostgreSQL really raised', () => {
  const primary = (): string => sharedServers().postgres!.primary.url;
  const table = uniqueName('cls_pg');

  beforeAll(async () => {
    await withConnections(connectPg, [primary()], async ([admin]) => {
      await admin!.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v int NOT NULL)`);
      await admin!.query(`INSERT INTO ${table} VALUES (1, 0), (2, 0)`);
    });
  });

  afterAll(async () => {
    await withConnections(connectPg, [primary()], ([admin]) => admin!.query(`DROP TABLE IF EXISTS ${table}`));
  });

  const blockedOn = (pid: number): string =>
    `SELECT 1 FROM pg_stat_activity WHERE pid = ${pid} AND (wait_event_type = 'Lock' OR query LIKE '%pg_sleep%') AND state = 'active'`;

  describe.each(postgresDrivers)('%s', (driver, connect) => {
    it('40001: two SERIALIZABLE transactions updating the same row', async () => {
      await withConnections(connect, [primary(), primary()], async ([a, b]) => {
        await a!.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
        await a!.query(`SELECT v FROM ${table} WHERE id = 1`);
        await b!.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
        await b!.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`);
        await b!.query('COMMIT');
        const error = await failure(a!.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`));
        await a!.query('ROLLBACK');
        expect(classify(error)).toMatchObject({
          kind: 'serialization',
          scope: 'transaction',
          retryable: true,
          code: '40001',
        });
      });
    });

    it('40P01: crossed row locks', async () => {
      await withConnections(connect, [primary(), primary()], async ([a, b]) => {
        for (const c of [a!, b!]) await c.query("SET deadlock_timeout = '50ms'");
        await a!.query('BEGIN');
        await b!.query('BEGIN');
        await a!.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`);
        await b!.query(`UPDATE ${table} SET v = v + 1 WHERE id = 2`);
        const results = await Promise.allSettled([
          a!.query(`UPDATE ${table} SET v = v + 1 WHERE id = 2`),
          b!.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`),
        ]);
        await Promise.allSettled([a!.query('ROLLBACK'), b!.query('ROLLBACK')]);
        const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
        expect(errors).toHaveLength(1);
        expect(classify(errors[0])).toMatchObject({
          kind: 'deadlock',
          scope: 'transaction',
          retryable: true,
          code: '40P01',
        });
      });
    });

    it('55P03: lock_timeout and NOWAIT', async () => {
      await withConnections(connect, [primary(), primary()], async ([a, b]) => {
        await a!.query('BEGIN');
        await a!.query(`SELECT * FROM ${table} WHERE id = 1 FOR UPDATE`);
        await b!.query('BEGIN');
        await b!.query("SET LOCAL lock_timeout = '100ms'");
        const timeout = await failure(b!.query(`SELECT * FROM ${table} WHERE id = 1 FOR UPDATE`));
        await b!.query('ROLLBACK');
        const nowait = await failure(b!.query(`SELECT * FROM ${table} WHERE id = 1 FOR UPDATE NOWAIT`));
        await a!.query('ROLLBACK');
        for (const error of [timeout, nowait]) {
          expect(classify(error)).toMatchObject({
            kind: 'lock-timeout',
            scope: 'statement',
            retryable: true,
            code: '55P03',
          });
        }
      });
    });

    it('57014: statement_timeout', async () => {
      await withConnections(connect, [primary()], async ([a]) => {
        await a!.query("SET statement_timeout = '50ms'");
        const error = await failure(a!.query('SELECT pg_sleep(2)'));
        expect(classify(error)).toMatchObject({
          kind: 'statement-timeout',
          scope: 'statement',
          retryable: true,
          code: '57014',
        });
      });
    });

    it('57014: pg_cancel_backend is a cancel, or an attempt timeout when dbop sent it', async () => {
      await withConnections(connect, [primary(), primary()], async ([a, b]) => {
        const running = failure(b!.query('SELECT pg_sleep(5)'));
        await waitUntilBlocked(a!, blockedOn(b!.id));
        await a!.query(`SELECT pg_cancel_backend(${b!.id})`);
        const error = await running;
        expect(classify(error)).toMatchObject({ kind: 'cancelled', retryable: false, code: '57014' });
        expect(classify(error, { cancelledByDbop: true })).toMatchObject({
          kind: 'attempt-timeout',
          retryable: true,
        });
      });
    });

    it('57P01: pg_terminate_backend mid-query', async () => {
      await withConnections(connect, [primary(), primary()], async ([a, b]) => {
        const running = failure(b!.query('SELECT pg_sleep(5)'));
        await waitUntilBlocked(a!, blockedOn(b!.id));
        await a!.query(`SELECT pg_terminate_backend(${b!.id})`);
        const error = await running;
        // pg surfaces the server's FATAL 57P01; postgres.js only reports that the socket closed under the query.
        const expected =
          driver === 'pg'
            ? { kind: 'server-shutdown', code: '57P01' }
            : { kind: 'connection-lost', code: 'CONNECTION_CLOSED' };
        expect(classify(error)).toMatchObject({
          ...expected,
          scope: 'connection',
          retryable: true,
          backend: 'postgres',
        });
        expect(classify(error, { inFlight: 'commit' })).toMatchObject({ ambiguous: true, retryable: false });
      });
    });

    it('25006: write in a READ ONLY transaction', async () => {
      await withConnections(connect, [primary()], async ([a]) => {
        await a!.query('BEGIN READ ONLY');
        const error = await failure(a!.query(`UPDATE ${table} SET v = 0 WHERE id = 1`));
        await a!.query('ROLLBACK');
        expect(classify(error)).toMatchObject({ kind: 'read-only', retryable: false, code: '25006' });
      });
    });

    it('25006: write on a hot standby', async () => {
      const standby = sharedServers().postgres!.standbys[0];
      expect(standby, 'the shared set has a standby').toBeDefined();
      await withConnections(connect, [standby!.url], async ([s]) => {
        const error = await failure(s!.query(`CREATE TABLE ${uniqueName('cls_standby')} (id int)`));
        expect(classify(error)).toMatchObject({
          kind: 'read-only',
          retryable: false,
          code: '25006',
          backend: 'postgres',
        });
      });
    });

    it('53300: too many connections for a role with a connection limit', async () => {
      const role = uniqueName('cls_role');
      await withConnections(connectPg, [primary()], async ([admin]) => {
        await admin!.query(`CREATE ROLE ${role} LOGIN CONNECTION LIMIT 1`);
        try {
          const url = new URL(primary());
          url.username = role;
          await withConnections(connect, [url.href], async () => {
            const error = await failure(connect(url.href));
            expect(classify(error)).toMatchObject({
              kind: 'too-many-connections',
              scope: 'connection',
              retryable: true,
              code: '53300',
            });
          });
        } finally {
          await admin!.query(`DROP ROLE ${role}`);
        }
      });
    });
  });
});
