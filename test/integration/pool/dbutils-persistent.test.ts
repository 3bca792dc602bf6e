// DBUtils' tests/test_persistent_db.py and test_persistent_pg.py, re-run on real servers (DBUtils used a
// mock driver): one steady connection per async context (its thread), told apart by the server's own id.
import { afterEach, describe, expect, it } from 'vitest';
import { type PersistentConnection, persistentConnection } from '../../../src/pool/persistent-connection.js';
import type { SteadyConnection, SteadyConnectionOptions } from '../../../src/pool/steady-connection.js';
import { type Conn, type CountingFactory, describeAdmin, targets } from './dbutils-support.js';
import { until } from './pool-support.js';

for (const target of targets) {
  describe.skipIf(!target.available())(
    `persistentConnection over ${target.name} (DBUtils PersistentDB)`,
    () => {
      let factory: CountingFactory;
      const made: PersistentConnection<Conn>[] = [];
      const persistent = (options: SteadyConnectionOptions = {}): PersistentConnection<Conn> => {
        factory = target.factory();
        const p = persistentConnection(factory, { ping: 'never', ...options });
        made.push(p);
        return p;
      };
      const rows = async (db: SteadyConnection<Conn>, sql: string) => target.rows(await db.query(sql));
      const id = async (db: SteadyConnection<Conn>): Promise<number> =>
        Number((await rows(db, target.idSql))[0]!.id);
      const table = `dbutils_persistent_${target.name}`;
      const admin = describeAdmin(target, table);

      afterEach(async () => {
        await Promise.all(made.splice(0).map((p) => p.close()));
      });

      it('gives each async context its own connection, reused inside it, ended when its run() ends (test_connection, test_threads)', async () => {
        const p = persistent();
        let release!: () => void;
        const together = new Promise<void>((resolve) => {
          release = resolve;
        });
        const contexts = Array.from({ length: 3 }, () =>
          p.run(async (db) => {
            const outer = await id(db);
            // Nested run() calls, however deep in awaits, see the same connection.
            const inner = await p.run(async (nested) => {
              expect(nested).toBe(db);
              return id(nested);
            });
            expect(inner).toBe(outer);
            await together;
            return outer;
          }),
        );
        await until(() => p.size === 3);
        release();
        const ids = await Promise.all(contexts);
        expect(new Set(ids).size).toBe(3);
        expect(p.size).toBe(0);
        await until(async () => (await admin.alive(ids)) === 0);
      });

      it('gives each context a steady connection with maxUsage and setSession (test_maxusage, test_setsession)', async () => {
        const p = persistent({ maxUsage: 3, setSession: [target.setTag('persistent')] });
        const ids = await p.run(async (db) => {
          const seen: number[] = [];
          for (let i = 0; i < 6; i++) seen.push(await id(db));
          expect(target.rows(await db.query(target.tagSql))[0]!.tag).toBe('persistent');
          return seen;
        });
        expect(new Set(ids).size).toBe(2);
        expect(ids.slice(0, 3).every((x) => x === ids[0])).toBe(true);
      });

      it('rolls back a transaction a previous step left open, before the next step reuses the connection (DBUtils does not)', async () => {
        const p = persistent();
        await p.run(async (db) => {
          const before = await id(db);
          await p.run(async (step) => {
            await step.begin();
            await step.query(`INSERT INTO ${table} VALUES ('left open')`);
          });
          await p.run(async (next) => {
            expect(next.inTransaction).toBe(false);
            // Same connection, the step's transaction rolled back on the server.
            expect(await id(next)).toBe(before);
            expect(target.rows(await next.query(`SELECT k FROM ${table}`))).toEqual([]);
          });
        });
        expect(await admin.query(`SELECT k FROM ${table}`)).toEqual([]);
      });

      it("keeps the enclosing step's transaction when a helper takes the connection through a nested run()", async () => {
        const p = persistent();
        await p.run(async (db) => {
          await db.begin();
          await db.query(`INSERT INTO ${table} VALUES ('first half')`);
          await p.run((helper) => helper.query(`INSERT INTO ${table} VALUES ('helper')`));
          expect(db.inTransaction).toBe(true);
          await db.rollback();
        });
        // Both rows went with the enclosing transaction's rollback: none ran in autocommit.
        expect(await admin.query(`SELECT k FROM ${table}`)).toEqual([]);
      });

      it('inside a transaction reports the lost connection, then goes on with a new one (test_failed_transaction)', async () => {
        const p = persistent({ setSession: [target.setTag('failed')] });
        await p.run(async (db) => {
          const before = await id(db);
          await admin.kill(before);
          // Outside a transaction: reopened and run again.
          const reopened = await id(db);
          expect(reopened).not.toBe(before);
          await db.begin();
          await admin.kill(reopened);
          await expect(db.query(target.idSql)).rejects.toThrow();
          expect(await id(db)).not.toBe(reopened);
          expect(target.rows(await db.query(target.tagSql))[0]!.tag).toBe('failed');
        });
      });

      it('close() ends every open connection and refuses new runs; current() outside run() throws (test_close)', async () => {
        const p = persistent();
        expect(() => p.current()).toThrow(/only valid inside run/);
        let backend: number | undefined;
        let finish!: () => void;
        const held = new Promise<void>((resolve) => {
          finish = resolve;
        });
        const running = p.run(async (db) => {
          backend = await id(db);
          await held;
        });
        await until(() => backend !== undefined);
        await p.close();
        // Ended on the server while its context still runs.
        await until(async () => (await admin.alive([backend!])) === 0);
        finish();
        await running;
        await expect(p.run(() => 1)).rejects.toThrow(/closed/);
      });
    },
  );
}
