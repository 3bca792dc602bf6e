import { DataSource, type EntityManager, EntitySchema } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isDbopError } from '../../../src/core/errors.js';
import { retryTransaction, step } from '../../../src/integrations/typeorm/index.js';
import { describeIfPostgres, postgresUrl } from '../../support/servers.js';
import { ormEvidence } from './orm-evidence.js';
import { type Admin, postgresAdmin, resetAccounts } from './orm-support.js';

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
      logger: {
        logQuery: (query: string) => void logged.push(query),
        logQueryError: () => undefined,
        logQuerySlow: () => undefined,
        logSchemaBuild: () => undefined,
        logMigration: () => undefined,
        log: () => undefined,
      },
    });
    await db.initialize();
  });
  afterAll(async () => {
    await db?.destroy();
    await admin?.end();
  });
  ormEvidence<EntityManager>(() => ({
    admin,
    logged,
    retry: (fn, options) => retryTransaction(db, fn, options),
    step: (manager, fn, options) => step(manager, fn, options),
    add: (manager, id, amount) => manager.increment(AccountEntity, { id }, 'balance', amount),
    balance: async (manager, id) => (await manager.findOneByOrFail(AccountEntity, { id })).balance,
    setBalance: (manager, id, value) => manager.update(AccountEntity, { id }, { balance: value }),
    // save() inside dbop's transaction opens none of its own (without dbop's mark it would commit dbop's).
    audit: (manager, slow) => manager.save(AuditEntity, { slow }),
    serverId: async (manager) => Number((await manager.query('SELECT pg_backend_pid() AS id'))[0].id),
    sleep: (manager) => manager.query('SELECT pg_sleep($1)', [60]),
    raw: (manager, statement) => manager.query(statement),
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
});
