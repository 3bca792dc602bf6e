import { expect, it } from 'vitest';
import { mariadbSql } from '../../../src/dialects/mariadb/mariadb-sql.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { DriverSession } from '../../../src/sessions/shared/driver-session.js';
import { endsMysqlTransaction } from '../../../src/sessions/shared/mysql-family.js';

// The statements sent after a swallowed 1213 (the server really produces it: see the MariaDB integration test).
it('after a swallowed 1213 on a fixed session, runner.transaction rolls back and redoes the whole body', async () => {
  const sent: string[] = [];
  let deadlocks = 1;
  const session = new DriverSession<null>({
    dialect: 'mariadb',
    sql: mariadbSql(),
    raw: null,
    async query(sql) {
      sent.push(sql);
      if (sql.includes('hot') && deadlocks-- > 0)
        throw Object.assign(new Error('Deadlock found'), { errno: 1213, code: 'ER_LOCK_DEADLOCK' });
      return { rows: [], rowCount: 1 };
    },
    async batch(statements) {
      sent.push(...statements);
      return [];
    },
    endsTransaction: endsMysqlTransaction,
    destroy() {},
  });
  const runner = new DbOpRunner({ maxRetries: 1, initialDelayMs: 1, defaultLockTimeoutMs: null });
  const result = await runner.transaction(session, async (s) => {
    await s.query('INSERT 1');
    await runner.run(s, (t) => t.query('UPDATE hot')).catch(() => 'swallowed');
    await s.query('INSERT 2').catch(() => 'swallowed');
    return 'done';
  });
  expect(result).toBe('done');
  expect(sent).toEqual([
    'START TRANSACTION',
    'INSERT 1',
    'SAVEPOINT dbop_sp_1',
    'UPDATE hot',
    // commit() threw the 1213 without a statement: the server had already rolled back.
    'START TRANSACTION',
    'INSERT 1',
    'SAVEPOINT dbop_sp_2',
    'UPDATE hot',
    'RELEASE SAVEPOINT dbop_sp_2',
    'INSERT 2',
    'COMMIT',
  ]);
});
