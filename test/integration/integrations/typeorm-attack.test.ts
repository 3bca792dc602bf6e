import { DataSource, type EntityManager } from 'typeorm';
import { afterAll, beforeAll, beforeEach, it } from 'vitest';
import { retryTransaction } from '../../../src/integrations/typeorm/index.js';
import { describeIfMariadb, mariadbUrl } from '../../support/servers.js';
import { swallowedDeadlock } from './orm-attack-support.js';
import { type Admin, databaseUrl, mariadbAdmin, resetAccounts } from './orm-support.js';

describeIfMariadb('dbop/typeorm attacked on MariaDB', () => {
  const database = `dbop_typeorm_attack_${process.pid}`;
  let admin: Admin;
  let db: DataSource;
  beforeAll(async () => {
    admin = await mariadbAdmin(mariadbUrl(), database);
    db = new DataSource({
      type: 'mariadb',
      connectorPackage: 'mysql2',
      url: databaseUrl(mariadbUrl(), database),
      extra: { connectionLimit: 4 },
    });
    await db.initialize();
  });
  afterAll(async () => {
    await db?.destroy();
    await admin?.end();
  });
  beforeEach(() => resetAccounts(admin));

  it('a deadlock the callback catches and carries on from (MariaDB rolled the transaction back): redone whole, never half committed', async () => {
    await swallowedDeadlock<EntityManager>(
      {
        retry: (fn, options) => retryTransaction(db, fn, options),
        raw: (manager, sql) => manager.query(sql),
      },
      admin,
      databaseUrl(mariadbUrl(), database),
    );
  });
});
