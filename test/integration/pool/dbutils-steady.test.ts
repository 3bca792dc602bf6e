// DBUtils' tests/test_steady_db.py and test_steady_pg.py, re-run on real servers (DBUtils used a mock
// driver): pg, mariadb and mysql2 against the harness's private PostgreSQL and MariaDB. Connections are
// told apart by the server's own id (backend pid, connection id); kills come from another session.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type SteadyConnection, steadyConnection } from '../../../src/pool/steady-connection.js';
import { type FaultProxy, startFaultProxy } from '../../../src/testing/fault-proxy.js';
import { type Conn, type CountingFactory, describeAdmin, targets } from './dbutils-support.js';
import { until } from './pool-support.js';

for (const target of targets) {
  describe.skipIf(!target.available())(`steadyConnection over ${target.name} (DBUtils SteadyDB)`, () => {
    const opened: SteadyConnection<Conn>[] = [];
    let factory: CountingFactory;
    const admin = describeAdmin(target);
    const steady = (options: Parameters<typeof steadyConnection>[1] = {}): SteadyConnection<Conn> => {
      const made = steadyConnection(factory, options);
      opened.push(made);
      return made;
    };
    const rows = async (db: SteadyConnection<Conn>, sql: string) => target.rows(await db.query(sql));
    const id = async (db: SteadyConnection<Conn>): Promise<number> =>
      Number((await rows(db, target.idSql))[0]!.id);
    const tag = async (db: SteadyConnection<Conn>): Promise<unknown> => {
      const value = (await rows(db, target.tagSql))[0]!.tag;
      return value === '' ? null : value;
    };

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((db) => db.close()));
    });
    // A new factory per test: ping counts start at 0.
    const fresh = (): void => {
      factory = target.factory();
    };

    it('opens lazily, counts usage, recycles after maxUsage and runs setSession on each new connection (test_connection, test_connection_maxusage, _setsession)', async () => {
      fresh();
      const db = steady({ maxUsage: 3, setSession: [target.setTag('steady')], ping: 'never' });
      expect(db.opened).toBe(0);
      const ids: number[] = [];
      for (let i = 0; i < 7; i++) ids.push(await id(db));
      expect(db.opened).toBe(3);
      expect(db.usage).toBe(1);
      // Three backends, each used exactly maxUsage times (the 7th statement opened the third).
      expect(ids.slice(0, 3).every((x) => x === ids[0])).toBe(true);
      expect(ids.slice(3, 6).every((x) => x === ids[3])).toBe(true);
      expect(new Set(ids).size).toBe(3);
      expect(await tag(db)).toBe('steady');
      // The recycled connections are gone on the server, not merely forgotten.
      await until(async () => (await admin.alive([ids[0]!, ids[3]!])) === 0);
    });

    it('reopens with setSession after the server ended its connection, outside a transaction (test_broken_connection, setsession after reconnect)', async () => {
      fresh();
      const db = steady({ setSession: [target.setTag('again')], ping: 'never' });
      const before = await id(db);
      await admin.kill(before);
      const after = await id(db);
      expect(after).not.toBe(before);
      expect(await tag(db)).toBe('again');
      expect(db.opened).toBe(2);
    });

    it('inside a transaction reports the lost connection, then starts over on a new one (test_begin_transaction)', async () => {
      fresh();
      const db = steady({ setSession: [target.setTag('tx')], ping: 'never' });
      await db.begin();
      const before = await id(db);
      await admin.kill(before);
      // Whether the driver already heard of the kill or learns it from this statement, the transaction
      // is gone: never replaced silently by a statement on a new connection.
      await expect(db.query(target.idSql)).rejects.toThrow();
      expect(db.inTransaction).toBe(false);
      const after = await id(db);
      expect(after).not.toBe(before);
      expect(await tag(db)).toBe('tx');
    });

    it.each(['commit', 'rollback'] as const)(
      'a %s on a connection the server ended throws, and the next statement runs on a new one (test_commit_error, test_rollback_error)',
      async (end) => {
        fresh();
        const db = steady({ setSession: [target.setTag('end')], ping: 'never' });
        await db.begin();
        const before = await id(db);
        await admin.kill(before);
        await until(async () => (await admin.alive([before])) === 0);
        await expect(db[end]()).rejects.toThrow();
        expect(db.inTransaction).toBe(false);
        const after = await id(db);
        expect(after).not.toBe(before);
        expect(await tag(db)).toBe('end');
      },
    );

    it.each([
      // ping mode, pings after: connection() twice, then two statements
      { ping: 'checkout', afterCheckouts: 2, afterStatements: 2 },
      { ping: 'statement', afterCheckouts: 0, afterStatements: 2 },
      { ping: 'both', afterCheckouts: 2, afterStatements: 4 },
      { ping: 'never', afterCheckouts: 0, afterStatements: 0 },
    ] as const)(
      'pings with ping $ping exactly as often as asked (test_connection_ping_check)',
      async (row) => {
        fresh();
        const db = steady({ ping: row.ping });
        await db.connection();
        await db.connection();
        expect(factory.pings).toBe(row.afterCheckouts);
        await db.query(target.idSql);
        await db.query(target.idSql);
        expect(factory.pings).toBe(row.afterStatements);
        expect(db.opened).toBe(1);
      },
    );

    it('replaces a connection that fails its checkout ping (test_connection_ping_check)', async () => {
      fresh();
      const db = steady({ ping: 'checkout', setSession: [target.setTag('pinged')] });
      const before = await id(db);
      await admin.kill(before);
      await until(async () => (await admin.alive([before])) === 0);
      const connection = await db.connection();
      expect(await id(db)).not.toBe(before);
      expect(connection).toBe(await db.connection());
      expect(await tag(db)).toBe('pinged');
    });

    describe('a ping that never answers (half-open socket)', () => {
      let proxy: FaultProxy;
      beforeAll(async () => {
        proxy = await startFaultProxy({ targetPort: target.port() });
      });
      afterAll(async () => {
        await proxy.close();
      });

      it('gives up after connectTimeoutMs instead of hanging, and works again once the network does', async () => {
        factory = target.factory(proxy.port);
        const db = steady({ ping: 'checkout', connectTimeoutMs: 1000 });
        const before = await id(db);
        proxy.set({ holdRequests: true });
        try {
          // Held: neither the ping nor a new connection's handshake reaches the server.
          const checkout = db.connection().then(
            () => 'connected',
            (error: unknown) => error,
          );
          const bound = new Promise((resolve) => setTimeout(() => resolve('still hanging'), 20_000).unref());
          const outcome = await Promise.race([checkout, bound]);
          expect(outcome).toBeInstanceOf(Error);
          expect(String((outcome as Error).message)).toMatch(/took longer than|timed out/);
          expect(factory.pings).toBe(1);
        } finally {
          proxy.set({});
        }
        const after = await id(db);
        expect(after).not.toBe(before);
      });
    });
  });
}
