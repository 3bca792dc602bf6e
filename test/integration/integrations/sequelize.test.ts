import { DataTypes, type Model, type ModelStatic, QueryTypes, Sequelize, Transaction } from 'sequelize';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { classify } from '../../../src/dialects/classify.js';
import { retryTransaction, step } from '../../../src/integrations/sequelize/index.js';
import { describeIfPostgres, postgresUrl } from '../../support/servers.js';
import { ormEvidence } from './orm-evidence.js';
import { type Admin, postgresAdmin, resetAccounts } from './orm-support.js';

describeIfPostgres('dbop/sequelize on PostgreSQL (dialect postgres)', () => {
  const schema = `dbop_sequelize_${process.pid}`;
  const logged: string[] = [];
  let sequelize: Sequelize;
  let Account: ModelStatic<Model<{ id: number; balance: number }>>;
  let Audit: ModelStatic<Model<{ id?: number; slow: number }>>;
  let admin: Admin;
  beforeAll(async () => {
    admin = await postgresAdmin(postgresUrl(), schema);
    sequelize = new Sequelize(postgresUrl(), {
      dialectOptions: { options: `-c search_path=${schema}` },
      pool: { max: 4 },
      // Sequelize's own log lines ("Executing (...): SQL"), kept as the bare statement.
      logging: (line: string) => void logged.push(line.replace(/^Executing \([^)]*\): /, '')),
    });
    Account = sequelize.define(
      'Account',
      { id: { type: DataTypes.INTEGER, primaryKey: true }, balance: DataTypes.INTEGER },
      { tableName: 'account', timestamps: false },
    );
    Audit = sequelize.define(
      'Audit',
      { id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true }, slow: DataTypes.INTEGER },
      { tableName: 'audit', timestamps: false },
    );
  });
  afterAll(async () => {
    await sequelize?.close();
    await admin?.end();
  });
  ormEvidence<Transaction>(() => ({
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
          await sequelize.query<{ id: number }>('SELECT pg_backend_pid() AS id', {
            transaction: t,
            type: QueryTypes.SELECT,
          })
        )[0]!.id,
      ),
    sleep: (t) => sequelize.query('SELECT pg_sleep(60)', { transaction: t }),
    raw: (t, statement) => sequelize.query(statement, { transaction: t }),
  }));

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
});
