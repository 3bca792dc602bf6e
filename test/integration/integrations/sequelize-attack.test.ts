import { Sequelize, type Transaction } from 'sequelize';
import { afterAll, beforeAll, beforeEach, it } from 'vitest';
import { retryTransaction } from '../../../src/integrations/sequelize/index.js';
import { describeIfMariadb, describeIfPostgres, mariadbUrl, postgresUrl } from '../../support/servers.js';
import { type AttackedOrm, swallowedDeadlock, swallowedPostgresDeadlock } from './orm-attack-support.js';
import { type Admin, databaseUrl, mariadbAdmin, postgresAdmin, resetAccounts } from './orm-support.js';

function attacked(sequelize: Sequelize): AttackedOrm<Transaction> {
  return {
    retry: (fn, options) => retryTransaction(sequelize, fn, options),
    raw: (t, statement) => sequelize.query(statement, { transaction: t }),
  };
}

for (const dialect of ['mysql', 'mariadb'] as const) {
  describeIfMariadb(`dbop/sequelize attacked on MariaDB (dialect ${dialect})`, () => {
    const database = `dbop_sequelize_attack_${dialect}_${process.pid}`;
    let admin: Admin;
    let sequelize: Sequelize;
    beforeAll(async () => {
      admin = await mariadbAdmin(mariadbUrl(), database);
      const url = new URL(databaseUrl(mariadbUrl(), database));
      sequelize = new Sequelize({
        dialect,
        host: url.hostname,
        port: Number(url.port),
        username: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
        database,
        pool: { max: 4 },
        logging: false,
      });
    });
    afterAll(async () => {
      await sequelize?.close();
      await admin?.end();
    });
    beforeEach(() => resetAccounts(admin));

    it('a deadlock the callback catches and carries on from (MariaDB rolled the transaction back): redone whole', async () => {
      await swallowedDeadlock(attacked(sequelize), admin, databaseUrl(mariadbUrl(), database));
    });

    it('a deadlock the callback catches and returns from: redone whole, not reported committed with nothing applied', async () => {
      await swallowedDeadlock(attacked(sequelize), admin, databaseUrl(mariadbUrl(), database), 'return');
    });
  });
}

describeIfPostgres('dbop/sequelize attacked on PostgreSQL', () => {
  const schema = `dbop_sequelize_attack_${process.pid}`;
  let admin: Admin;
  let sequelize: Sequelize;
  beforeAll(async () => {
    admin = await postgresAdmin(postgresUrl(), schema);
    sequelize = new Sequelize(postgresUrl(), {
      dialectOptions: { options: `-c search_path=${schema}` },
      pool: { max: 4 },
      logging: false,
    });
  });
  afterAll(async () => {
    await sequelize?.close();
    await admin?.end();
  });
  beforeEach(() => resetAccounts(admin));

  it('a deadlock the callback catches and returns from (COMMIT answers ROLLBACK): redone whole', async () => {
    await swallowedPostgresDeadlock(attacked(sequelize), admin, postgresUrl(), schema);
  });
});
