import { AsyncLocalStorage } from 'node:async_hooks';
import { createConnection, type Socket } from 'node:net';
import {
  DataTypes,
  type Model,
  type ModelStatic,
  type Options,
  QueryTypes,
  Sequelize,
  Transaction,
} from 'sequelize';
import sqlite3 from 'sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify } from '../../../src/dialects/classify.js';
import { retryTransaction, step } from '../../../src/integrations/sequelize/index.js';
import { describeIfMariadb, describeIfPostgres, mariadbUrl, postgresUrl } from '../../support/servers.js';
import {
  type AttackedOrm,
  nestedOnOneConnection,
  swallowedDeadlock,
  swallowedPostgresDeadlock,
} from './orm-attack-support.js';
import { type OrmUnderTest, ormEvidence, ormSqliteEvidence } from './orm-evidence.js';
import {
  type Admin,
  commitCutter,
  databaseUrl,
  mariadbAdmin,
  postgresAdmin,
  promiseCommitCutter,
  resetAccounts,
  type SqliteBank,
  sqliteBank,
} from './orm-support.js';

type AccountModel = ModelStatic<Model<{ id: number; balance: number }>>;

const models = new WeakMap<Sequelize, { Account: AccountModel; Audit: ModelStatic<Model> }>();

/** The account and audit models on a Sequelize instance, defined once. */
function defineModels(sequelize: Sequelize): { Account: AccountModel; Audit: ModelStatic<Model> } {
  const known = models.get(sequelize);
  if (known !== undefined) return known;
  const Account: AccountModel = sequelize.define(
    'Account',
    { id: { type: DataTypes.INTEGER, primaryKey: true }, balance: DataTypes.INTEGER },
    { tableName: 'account', timestamps: false },
  );
  const Audit = sequelize.define(
    'Audit',
    { id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true }, slow: DataTypes.INTEGER },
    { tableName: 'audit', timestamps: false },
  );
  models.set(sequelize, { Account, Audit });
  return { Account, Audit };
}

/** Sequelize's own log lines ("Executing (...): SQL"), kept as the bare statement. */
function logInto(logged: string[]): (line: string) => void {
  return (line) => void logged.push(line.replace(/^Executing \([^)]*\): /, ''));
}

/** The transfer's statements through Sequelize's models, on the Transaction retryTransaction passes. */
function sequelizeOrm(
  sequelize: Sequelize,
  admin: Admin,
  logged: string[],
  backend: { serverId: string; sleep: string },
): OrmUnderTest<Transaction> {
  const { Account, Audit } = defineModels(sequelize);
  return {
    admin,
    logged,
    retry: (fn, options) => retryTransaction(sequelize, fn, options),
    step: (t, fn, options) => step(t, fn, options),
    add: (t, id, amount) => Account.increment('balance', { by: amount, where: { id }, transaction: t }),
    balance: async (t, id) => Number((await Account.findByPk(id, { transaction: t }))!.get('balance')),
    setBalance: (t, id, value) => Account.update({ balance: value }, { where: { id }, transaction: t }),
    audit: (t, slow) => Audit.create({ slow }, { transaction: t }),
    serverId: async (t) =>
      Number(
        (
          await sequelize.query<{ id: number }>(backend.serverId, {
            transaction: t,
            type: QueryTypes.SELECT,
          })
        )[0]!.id,
      ),
    sleep: (t) => sequelize.query(backend.sleep, { transaction: t }),
    raw: (t, statement) => sequelize.query(statement, { transaction: t }),
  };
}

/** retryTransaction and raw SQL on the Transaction it passes, for the attacks. */
function attacked(sequelize: Sequelize): AttackedOrm<Transaction> {
  return {
    retry: (fn, options) => retryTransaction(sequelize, fn, options),
    raw: (t, statement) => sequelize.query(statement, { transaction: t }),
  };
}

/**
 * With Sequelize.useCLS(namespace), statements that name no transaction run in the one the namespace
 * holds (Sequelize's own transaction(callback) puts it there): inside retryTransaction, dbop's. The
 * namespace is a small AsyncLocalStorage one with the get/set/run/bind face Sequelize calls.
 */
async function clsTransactionUsed(sequelize: Sequelize, admin: Admin): Promise<void> {
  const { Account } = defineModels(sequelize);
  const storage = new AsyncLocalStorage<Map<string, unknown>>();
  const namespace = {
    get: (key: string) => storage.getStore()?.get(key),
    set: (key: string, value: unknown) => void storage.getStore()?.set(key, value),
    run: (fn: (context: unknown) => unknown) => {
      const context = new Map<string, unknown>();
      return storage.run(context, () => fn(context));
    },
    bind: <F>(fn: F) => fn,
  };
  await resetAccounts(admin);
  Sequelize.useCLS(namespace);
  try {
    let attempts = 0;
    const error = await retryTransaction(sequelize, async () => {
      attempts += 1;
      await Account.increment('balance', { by: -10, where: { id: 1 } });
      throw new Error('business rule');
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('business rule');
    expect(attempts).toBe(1);
    // The decrement ran in dbop's transaction, and went with its rollback.
    expect(await admin.balances()).toEqual({ 1: 100, 2: 100, 3: 100 });
    await retryTransaction(sequelize, async () => {
      await Account.increment('balance', { by: -10, where: { id: 1 } });
      await sequelize.query('UPDATE account SET balance = balance + 10 WHERE id = 2');
    });
    expect(await admin.balances()).toEqual({ 1: 90, 2: 110, 3: 100 });
  } finally {
    (Sequelize as unknown as { _cls?: unknown })._cls = undefined;
  }
}

describeIfPostgres('dbop/sequelize on PostgreSQL (dialect postgres)', () => {
  const schema = `dbop_sequelize_${process.pid}`;
  const logged: string[] = [];
  let sequelize: Sequelize;
  let Account: AccountModel;
  let admin: Admin;
  beforeAll(async () => {
    admin = await postgresAdmin(postgresUrl(), schema);
    sequelize = new Sequelize(postgresUrl(), {
      dialectOptions: { options: `-c search_path=${schema}` },
      pool: { max: 4 },
      logging: logInto(logged),
    });
    Account = defineModels(sequelize).Account;
  });
  afterAll(async () => {
    await sequelize?.close();
    await admin?.end();
  });
  ormEvidence<Transaction>(() =>
    sequelizeOrm(sequelize, admin, logged, {
      serverId: 'SELECT pg_backend_pid() AS id',
      sleep: 'SELECT pg_sleep(60)',
    }),
  );

  it('t.commit() inside is refused; afterCommit hooks run once, after dbop committed', async () => {
    await resetAccounts(admin);
    const error = await retryTransaction(sequelize, async (t) => {
      await Account.increment('balance', { by: 5, where: { id: 1 }, transaction: t });
      await t.commit();
    }).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('DBOP_TRANSACTION_BOUNDARY');
    let hooks = 0;
    await retryTransaction(sequelize, async (t) => {
      t.afterCommit(() => {
        hooks += 1;
      });
      await Account.increment('balance', { by: 1, where: { id: 2 }, transaction: t });
    });
    expect(hooks).toBe(1);
    expect(await admin.balances()).toEqual({ 1: 100, 2: 101, 3: 100 });
  });

  it("the isolation level comes from Sequelize's own isolationLevel option unless the call names one", async () => {
    const lines: string[] = [];
    const configured = new Sequelize(postgresUrl(), {
      dialectOptions: { options: `-c search_path=${schema}` },
      pool: { max: 2 },
      isolationLevel: Transaction.ISOLATION_LEVELS.SERIALIZABLE,
      logging: (line: string) => void lines.push(line),
    });
    try {
      await retryTransaction(configured, (t) => configured.query('SELECT 1', { transaction: t }));
      await retryTransaction(configured, (t) => configured.query('SELECT 1', { transaction: t }), {
        isolationLevel: 'read committed',
      });
    } finally {
      await configured.close();
    }
    const begins = lines.filter((line) => line.includes('BEGIN'));
    expect(begins).toEqual([
      expect.stringContaining('BEGIN ISOLATION LEVEL SERIALIZABLE'),
      expect.stringContaining('BEGIN ISOLATION LEVEL READ COMMITTED'),
    ]);
  });

  it('classify reads the errors Sequelize really threw: a lock timeout (DatabaseError) and an acquire timeout', async () => {
    const release = await admin.holdRow(1);
    let lockError: unknown;
    try {
      lockError = await sequelize
        .transaction(async (t) => {
          await sequelize.query("SET LOCAL lock_timeout = '100ms'", { transaction: t });
          await Account.update({ balance: 1 }, { where: { id: 1 }, transaction: t });
        })
        .catch((e: unknown) => e);
    } finally {
      await release();
    }
    expect((lockError as Error).name).toBe('SequelizeDatabaseError');
    expect(classify(lockError)).toMatchObject({ kind: 'lock-timeout', code: '55P03' });

    const small = new Sequelize(postgresUrl(), { pool: { max: 1, acquire: 200 }, logging: false });
    try {
      const held = await small.transaction();
      const acquireError = await small.query('SELECT 1').catch((e: unknown) => e);
      await held.rollback();
      expect((acquireError as Error).name).toBe('SequelizeConnectionAcquireTimeoutError');
      expect(classify(acquireError)).toMatchObject({ kind: 'pool-exhausted', retryable: false });
    } finally {
      await small.close();
    }
  });
  it('a deadlock the callback catches and returns from (COMMIT answers ROLLBACK): redone whole', async () => {
    await resetAccounts(admin);
    await swallowedPostgresDeadlock(attacked(sequelize), admin, postgresUrl(), schema);
  });
  it("with Sequelize.useCLS, statements that name no transaction run in dbop's, as in Sequelize's own", async () => {
    await clsTransactionUsed(sequelize, admin);
  });
});

/**
 * A Sequelize on the private MariaDB through one of its MySQL-family dialects: 'mysql' (mysql2's callback
 * connections) or 'mariadb' (the mariadb connector's promise connections, over sockets the test can cut).
 */
function describeSequelizeMysqlFamily(dialect: 'mysql' | 'mariadb', title: string): void {
  describeIfMariadb(title, () => {
    const database = `dbop_sequelize_${dialect}_${process.pid}`;
    const logged: string[] = [];
    const sockets = new Set<Socket>();
    let sequelize: Sequelize;
    let admin: Admin;
    let cutCommit: ReturnType<typeof commitCutter>;
    beforeAll(async () => {
      admin = await mariadbAdmin(mariadbUrl(), database);
      const url = new URL(databaseUrl(mariadbUrl(), database));
      let watch: (connection: unknown) => void = () => undefined;
      const connections = {
        on: (_event: 'connection', listener: (c: unknown) => void) => (watch = listener),
      };
      cutCommit =
        dialect === 'mysql'
          ? commitCutter(connections, admin)
          : promiseCommitCutter(connections, admin, sockets);
      const options: Options = {
        dialect,
        host: url.hostname,
        port: Number(url.port),
        username: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
        database,
        pool: { max: 4 },
        logging: logInto(logged),
        hooks: {
          afterConnect: async (connection: unknown) => {
            watch(connection);
            // MariaDB reports a write to a row changed since the snapshot (1020) only with this on.
            const set = 'SET SESSION innodb_snapshot_isolation = ON';
            const c = connection as { query(sql: string, cb?: (error: unknown) => void): unknown };
            if (dialect === 'mariadb') await c.query(set);
            else
              await new Promise<void>((resolve, reject) => c.query(set, (e) => (e ? reject(e) : resolve())));
          },
        },
        // The mariadb connector's own socket, so a test can cut it right after COMMIT went out.
        ...(dialect === 'mariadb'
          ? {
              dialectOptions: {
                stream: () => {
                  const socket = createConnection(Number(url.port), url.hostname);
                  sockets.add(socket);
                  socket.on('close', () => sockets.delete(socket));
                  return socket;
                },
              },
            }
          : {}),
      };
      sequelize = new Sequelize(options);
    });
    afterAll(async () => {
      await sequelize?.close();
      await admin?.end();
    });
    ormEvidence<Transaction>(() => ({
      ...sequelizeOrm(sequelize, admin, logged, {
        serverId: 'SELECT CONNECTION_ID() AS id',
        sleep: 'SELECT SLEEP(60)',
      }),
      cutCommit,
    }));

    for (const after of ['carry on', 'return'] as const) {
      it(`a deadlock the callback catches and then does '${after}' (MariaDB rolled the transaction back): redone whole, never half or none of it committed`, async () => {
        await resetAccounts(admin);
        await swallowedDeadlock(attacked(sequelize), admin, databaseUrl(mariadbUrl(), database), after);
      });
    }
    it("with Sequelize.useCLS, statements that name no transaction run in dbop's, as in Sequelize's own", async () => {
      await clsTransactionUsed(sequelize, admin);
    });
  });
}

describeSequelizeMysqlFamily('mysql', 'dbop/sequelize on MariaDB (dialect mysql, mysql2)');
describeSequelizeMysqlFamily('mariadb', 'dbop/sequelize on MariaDB (dialect mariadb, mariadb connector)');

describe('dbop/sequelize on SQLite (dialect sqlite, node-sqlite3)', () => {
  const logged: string[] = [];
  let bank: SqliteBank;
  let sequelize: Sequelize;
  let Account: AccountModel;
  let locker: sqlite3.Database;
  // node-sqlite3 bundles a SQLite of its own, blind to the locks of better-sqlite3's (the bank's) in this process.
  const exec = (sql: string) =>
    new Promise<void>((resolve, reject) => locker.exec(sql, (error) => (error ? reject(error) : resolve())));
  beforeAll(() => {
    bank = sqliteBank('dbop-sequelize-');
    locker = new sqlite3.Database(bank.file);
    sequelize = new Sequelize({ dialect: 'sqlite', storage: bank.file, logging: logInto(logged) });
    ({ Account } = defineModels(sequelize));
  });
  afterAll(async () => {
    await sequelize?.close();
    await new Promise((resolve) => locker?.close(resolve));
    bank?.close();
  });
  const manager = () =>
    (sequelize as unknown as { connectionManager: { getConnection(options: object): Promise<unknown> } })
      .connectionManager;
  ormSqliteEvidence<Transaction>(() => ({
    bank,
    logged,
    retry: (fn, options) => retryTransaction(sequelize, fn, options),
    step: (t, fn, options) => step(t, fn, options),
    add: (t, id, amount) => Account.increment('balance', { by: amount, where: { id }, transaction: t }),
    // Sequelize wraps what the driver's callback reported (dbop's refusal too) in its DatabaseError.
    addOutside: (id, amount) =>
      Account.increment('balance', { by: amount, where: { id } }).catch((error: unknown) => {
        throw (error as { parent?: unknown }).parent ?? error;
      }),
    // Sequelize prepares nothing ahead on node-sqlite3: the same write, run once first.
    preparedOutside: async (id, amount) => {
      const write = () =>
        Account.increment('balance', { by: amount, where: { id } }).catch((error: unknown) => {
          throw (error as { parent?: unknown }).parent ?? error;
        });
      await write();
      return write;
    },
    raw: (t, statement) => sequelize.query(statement, { transaction: t }),
    writer: { begin: () => exec('BEGIN IMMEDIATE'), commit: () => exec('COMMIT') },
    // Sequelize's sqlite dialect keeps one node-sqlite3 Database per storage for statements outside transactions.
    connection: () => manager().getConnection({}),
    busyTimeout: async () =>
      Number(
        (
          await sequelize.query<{ timeout: number }>('SELECT timeout FROM pragma_busy_timeout', {
            type: QueryTypes.SELECT,
          })
        )[0]!.timeout,
      ),
  }));

  it('a retryTransaction nested in another on the one connection is refused, not left waiting for itself', async () => {
    await nestedOnOneConnection({ retry: (fn, options) => retryTransaction(sequelize, fn, options) });
  });

  it('a rollback SQLite makes on its own (ON CONFLICT ROLLBACK) is seen at once: nothing after it runs in autocommit', async () => {
    bank.reset();
    await exec('CREATE TABLE IF NOT EXISTS seq_conflict (k INTEGER UNIQUE ON CONFLICT ROLLBACK)');
    await exec('DELETE FROM seq_conflict; INSERT INTO seq_conflict VALUES (1)');
    const error = await retryTransaction(sequelize, async (t) => {
      await Account.increment('balance', { by: -10, where: { id: 1 }, transaction: t });
      // The callback swallows the error; SQLite has already rolled the whole transaction back.
      await sequelize.query('INSERT INTO seq_conflict VALUES (1)', { transaction: t }).catch(() => {});
      await Account.increment('balance', { by: 10, where: { id: 2 }, transaction: t });
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    // Neither half applied: the second increment never ran outside the transaction.
    expect(bank.balances()).toEqual({ 1: 100, 2: 100, 3: 100 });
  });

  it("t.commit() is refused, update() counts the rows it changed, and Sequelize's own transaction works after", async () => {
    bank.reset();
    const error = await retryTransaction(sequelize, async (t) => {
      await Account.increment('balance', { by: 5, where: { id: 1 }, transaction: t });
      await t.commit();
    }).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('DBOP_TRANSACTION_BOUNDARY');
    // Sequelize reads the count from node-sqlite3's callback `this` (the statement's changes).
    const changed = await retryTransaction(
      sequelize,
      async (t) => (await Account.update({ balance: 50 }, { where: { id: [1, 2] }, transaction: t }))[0],
    );
    expect(changed).toBe(2);
    await sequelize.transaction((t) =>
      Account.increment('balance', { by: 1, where: { id: 3 }, transaction: t }),
    );
    expect(bank.balances()).toEqual({ 1: 50, 2: 50, 3: 101 });
  });
});
