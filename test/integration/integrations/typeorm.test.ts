import { DataSource, type EntityManager, EntitySchema } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDbopError } from '../../../src/core/errors.js';
import { retryTransaction, step } from '../../../src/integrations/typeorm/index.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { describeIfMariadb, describeIfPostgres, mariadbUrl, postgresUrl } from '../../support/servers.js';
import { nestedOnOneConnection, swallowedDeadlock } from './orm-attack-support.js';
import { type OrmUnderTest, ormEvidence, ormSqliteEvidence } from './orm-evidence.js';
import {
  type Admin,
  commitCutter,
  databaseUrl,
  mariadbAdmin,
  postgresAdmin,
  resetAccounts,
  type SqliteBank,
  sleep,
  sqliteBank,
} from './orm-support.js';

interface Account {
  id: number;
  balance: number;
}
interface Audit {
  id: number;
  slow: number;
}
const AccountEntity = new EntitySchema<Account>({
  name: 'Account',
  tableName: 'account',
  columns: { id: { type: Number, primary: true }, balance: { type: Number } },
});
const AuditEntity = new EntitySchema<Audit>({
  name: 'Audit',
  tableName: 'audit',
  columns: { id: { type: Number, primary: true, generated: true }, slow: { type: Number } },
});

/** The account/audit statements through TypeORM's EntityManager, the same on every driver. */
function typeormOrm(
  db: DataSource,
  admin: Admin,
  logged: string[],
): Omit<OrmUnderTest<EntityManager>, 'serverId' | 'sleep'> {
  return {
    admin,
    logged,
    retry: (fn, options) => retryTransaction(db, fn, options),
    step: (manager, fn, options) => step(manager, fn, options),
    add: (manager, id, amount) => manager.increment(AccountEntity, { id }, 'balance', amount),
    balance: async (manager, id) => (await manager.findOneByOrFail(AccountEntity, { id })).balance,
    setBalance: (manager, id, value) => manager.update(AccountEntity, { id }, { balance: value }),
    // save() inside dbop's transaction opens none of its own (without dbop's mark it would commit dbop's).
    audit: (manager, slow) => manager.save(AuditEntity, { slow }),
    raw: (manager, statement) => manager.query(statement),
  };
}

function recordingLogger(logged: string[]) {
  return {
    logQuery: (query: string) => void logged.push(query),
    logQueryError: () => undefined,
    logQuerySlow: () => undefined,
    logSchemaBuild: () => undefined,
    logMigration: () => undefined,
    log: () => undefined,
  };
}

describeIfPostgres('dbop/typeorm on PostgreSQL (DataSource, driver postgres)', () => {
  const schema = `dbop_typeorm_${process.pid}`;
  const logged: string[] = [];
  let db: DataSource;
  let admin: Admin;
  beforeAll(async () => {
    admin = await postgresAdmin(postgresUrl(), schema);
    db = new DataSource({
      type: 'postgres',
      url: postgresUrl(),
      schema,
      entities: [AccountEntity, AuditEntity],
      extra: { max: 4, options: `-c search_path=${schema}` },
      logger: recordingLogger(logged),
    });
    await db.initialize();
  });
  afterAll(async () => {
    await db?.destroy();
    await admin?.end();
  });
  ormEvidence<EntityManager>(() => ({
    ...typeormOrm(db, admin, logged),
    serverId: async (manager) => Number((await manager.query('SELECT pg_backend_pid() AS id'))[0].id),
    sleep: (manager) => manager.query('SELECT pg_sleep($1)', [60]),
  }));

  it("TypeORM's own transaction API on dbop's runner is refused, and nothing is committed", async () => {
    await resetAccounts(admin);
    const error = await retryTransaction(db, async (manager) => {
      await manager.increment(AccountEntity, { id: 1 }, 'balance', 5);
      await manager.transaction((inner) => inner.increment(AccountEntity, { id: 2 }, 'balance', 5));
    }).catch((e: unknown) => e);
    expect(isDbopError(error, 'DBOP_TRANSACTION_BOUNDARY')).toBe(true);
    expect(await admin.balances()).toEqual({ 1: 100, 2: 100, 3: 100 });
    expect(logged).not.toContain('START TRANSACTION');
  });

  it("the backend killed while the callback runs JavaScript (TypeORM released the runner on pg's 'error'): manager.query() after it is redone, applied once", async () => {
    await resetAccounts(admin);
    let attempts = 0;
    await retryTransaction(
      db,
      async (manager) => {
        attempts += 1;
        await manager.query('UPDATE account SET balance = balance - 10 WHERE id = 1');
        if (attempts === 1) {
          await admin.kill(Number((await manager.query('SELECT pg_backend_pid() AS id'))[0].id));
          // The idle client emits 'error', on which TypeORM releases the runner the manager is bound to.
          for (let i = 0; i < 250 && manager.queryRunner?.isReleased !== true; i++) await sleep(20);
          expect(manager.queryRunner?.isReleased).toBe(true);
        }
        await manager.query('UPDATE account SET balance = balance + 10 WHERE id = 2');
      },
      { runner: new DbOpRunner({ initialDelayMs: 10 }) },
    );
    expect(attempts).toBe(2);
    expect(await admin.balances()).toEqual({ 1: 90, 2: 110, 3: 100 });
  });
});

describeIfMariadb('dbop/typeorm on MariaDB (DataSource, driver mariadb over mysql2)', () => {
  const database = `dbop_typeorm_${process.pid}`;
  const logged: string[] = [];
  let db: DataSource;
  let admin: Admin;
  let cutCommit: ReturnType<typeof commitCutter>;
  beforeAll(async () => {
    admin = await mariadbAdmin(mariadbUrl(), database);
    db = new DataSource({
      type: 'mariadb',
      connectorPackage: 'mysql2',
      url: databaseUrl(mariadbUrl(), database),
      entities: [AccountEntity, AuditEntity],
      extra: { connectionLimit: 4 },
      logger: recordingLogger(logged),
    });
    await db.initialize();
    // TypeORM's callback pool of mysql2: its connections are the ones that send COMMIT.
    const pool = (db.driver as unknown as { pool: CallbackPool }).pool;
    cutCommit = commitCutter(pool, admin);
    // MariaDB reports a write to a row changed since the snapshot (1020) only with this on.
    pool.on('connection', (c) => {
      (c as { query(sql: string): void }).query('SET SESSION innodb_snapshot_isolation = ON');
    });
    // initialize() opened one connection before these hooks: drop it, so every connection has them.
    await new Promise<void>((resolve, reject) =>
      pool.getConnection((error, connection) => {
        if (error) reject(error);
        else {
          connection.destroy();
          resolve();
        }
      }),
    );
  });
  afterAll(async () => {
    await db?.destroy();
    await admin?.end();
  });
  ormEvidence<EntityManager>(() => ({
    ...typeormOrm(db, admin, logged),
    serverId: async (manager) => Number((await manager.query('SELECT CONNECTION_ID() AS id'))[0].id),
    sleep: (manager) => manager.query('SELECT SLEEP(60)'),
    cutCommit,
  }));

  for (const after of ['carry on', 'return'] as const) {
    it(`a deadlock the callback catches and then does '${after}' (MariaDB rolled the transaction back): redone whole, never half or none of it committed`, async () => {
      await resetAccounts(admin);
      await swallowedDeadlock<EntityManager>(
        {
          retry: (fn, options) => retryTransaction(db, fn, options),
          raw: (manager, sql) => manager.query(sql),
        },
        admin,
        databaseUrl(mariadbUrl(), database),
        after,
      );
    });
  }
});

interface CallbackPool {
  on(event: 'connection', listener: (connection: unknown) => void): unknown;
  getConnection(callback: (error: unknown, connection: { destroy(): void }) => void): void;
}

describe('dbop/typeorm on SQLite (DataSource, driver better-sqlite3)', () => {
  const logged: string[] = [];
  let bank: SqliteBank;
  let db: DataSource;
  beforeAll(async () => {
    bank = sqliteBank('dbop-typeorm-');
    db = new DataSource({
      type: 'better-sqlite3',
      database: bank.file,
      timeout: 100,
      entities: [AccountEntity],
      logger: recordingLogger(logged),
    });
    await db.initialize();
  });
  afterAll(async () => {
    await db?.destroy();
    bank?.close();
  });
  ormSqliteEvidence<EntityManager>(() => ({
    bank,
    logged,
    retry: (fn, options) => retryTransaction(db, fn, options),
    step: (manager, fn, options) => step(manager, fn, options),
    add: (manager, id, amount) => manager.increment(AccountEntity, { id }, 'balance', amount),
    addOutside: (id, amount) => db.manager.increment(AccountEntity, { id }, 'balance', amount),
    // TypeORM's shared runner keeps the statements it prepared (statementCacheSize): run once, cached.
    preparedOutside: async (id, amount) => {
      const write = () => db.manager.increment(AccountEntity, { id }, 'balance', amount);
      await write();
      return write;
    },
    raw: (manager, statement) => manager.query(statement),
    connection: async () => (db.driver as unknown as { databaseConnection: unknown }).databaseConnection,
    busyTimeout: async () => Number((await db.query('SELECT timeout FROM pragma_busy_timeout'))[0].timeout),
  }));

  it('a retryTransaction nested in another on the one connection is refused, not left waiting for itself', async () => {
    await nestedOnOneConnection({ retry: (fn, options) => retryTransaction(db, fn, options) });
  });

  it("save() inside opens no transaction of its own, and TypeORM's shared runner is left unguarded", async () => {
    bank.reset();
    await retryTransaction(db, async (manager) => {
      const account = await manager.findOneByOrFail(AccountEntity, { id: 1 });
      account.balance -= 7;
      await manager.save(AccountEntity, account);
      await manager.increment(AccountEntity, { id: 2 }, 'balance', 7);
    });
    expect(bank.balances()).toEqual({ 1: 93, 2: 107, 3: 100 });
    // TypeORM's own transaction API still works outside dbop's.
    await db.transaction((manager) => manager.increment(AccountEntity, { id: 3 }, 'balance', 1));
    expect(bank.balances()).toEqual({ 1: 93, 2: 107, 3: 101 });
  });
});
