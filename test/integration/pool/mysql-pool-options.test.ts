import { afterEach, expect, it } from 'vitest';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import { type PoolLeakMessage, poolChannelNames } from '../../../src/pool/pool-channels.js';
import { PoolTimeoutError } from '../../../src/pool/pool-errors.js';
import { describeIfMariadb, mariadbUrl } from '../../support/servers.js';
import { collect, until } from './pool-support.js';

// mysql:// (mysql2) and mariadb:// (mariadb) are on dbop's pool, with the same pool options as every URL.
// Against the private MariaDB.
describeIfMariadb('pool options of mysql:// and mariadb:// Databases (MariaDB)', () => {
  const dbs: Database[] = [];
  afterEach(async () => {
    await Promise.all(dbs.splice(0).map((db) => db.close()));
  });
  const open = async (scheme: string, options: Record<string, unknown>): Promise<Database> => {
    const db = await createDatabase({
      url: mariadbUrl().replace(/^mysql:/, `${scheme}:`),
      limiter: false,
      maxRetries: 0,
      ...options,
    });
    dbs.push(db);
    return db;
  };
  const connectionId = async (db: Database): Promise<number> =>
    Number((await db.query<{ id: unknown }>('SELECT CONNECTION_ID() AS id')).rows[0]!.id);

  for (const scheme of ['mysql', 'mariadb']) {
    it(`${scheme}://: acquireTimeoutMs ends a wait on a full pool with PoolTimeoutError`, async () => {
      const db = await open(scheme, { max: 1, acquireTimeoutMs: 300 });
      let finish!: () => void;
      const held = new Promise<void>((resolve) => {
        finish = resolve;
      });
      let holding!: () => void;
      const holdingNow = new Promise<void>((resolve) => {
        holding = resolve;
      });
      const holder = db.transaction(async (conn) => {
        await conn.execute('SELECT 1');
        holding();
        await held;
      });
      await holdingNow;
      const error = await db.query('SELECT 1').then(
        () => undefined,
        (e: unknown) => e,
      );
      finish();
      await holder;
      // dbop's typed one for both drivers (it names the holders).
      expect(error).toBeInstanceOf(PoolTimeoutError);
      // The pool still serves once the holder is done.
      expect(Number((await db.query<{ n: unknown }>('SELECT 1 AS n')).rows[0]!.n)).toBe(1);
    });

    it(`${scheme}://: leakDetectionMs reports a held connection with the acquirer's stack`, async () => {
      const leaks = collect<PoolLeakMessage>(poolChannelNames.leak);
      try {
        const db = await open(scheme, { leakDetectionMs: 100 });
        await db.transaction(async function holdsTheConnection(conn) {
          await conn.execute('SELECT 1');
          await until(() => leaks.messages.length > 0);
        });
        expect(leaks.messages[0]!.heldMs).toBeGreaterThanOrEqual(100);
        expect(leaks.messages[0]!.stack).toMatch(/at Database\./);
        expect(leaks.messages[0]!.pool).not.toMatch(/dbop@|:dbop@/);
      } finally {
        leaks.stop();
      }
    });

    it(`${scheme}://: maxLifetimeMs retires a connection when it is given back past its lifetime`, async () => {
      const db = await open(scheme, { max: 1, maxLifetimeMs: 50 });
      const first = await connectionId(db);
      await new Promise((resolve) => setTimeout(resolve, 100));
      // Still handed out once more (the check is at release), then closed.
      await connectionId(db);
      expect(await connectionId(db)).not.toBe(first);
    });

    it(`${scheme}://: idleTimeoutMs and minIdle are taken, db.stats().pool counts them`, async () => {
      const db = await open(scheme, { max: 2, minIdle: 1, idleTimeoutMs: 1000 });
      await connectionId(db);
      await until(() => db.stats().pool.total >= 1);
      expect(db.stats().pool).toMatchObject({ waiting: 0 });
    });
  }
});
