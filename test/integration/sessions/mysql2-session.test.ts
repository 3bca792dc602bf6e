import mysql from 'mysql2/promise';
import { mysql2Session } from '../../../src/sessions/mysql2/index.js';
import { describeIfMariadb, mariadbUrl } from '../../support/servers.js';
import { sessionContract } from './session-contract.js';

describeIfMariadb('mysql2Session contract (against MariaDB)', () => {
  sessionContract(async () => {
    const connection = await mysql.createConnection(mariadbUrl());
    const sidecar = await mysql.createConnection(mariadbUrl());
    return {
      session: mysql2Session(connection, { flavor: 'mariadb', sidecar }),
      placeholder: () => '?',
      lockTimeoutQuery: 'SELECT @@SESSION.innodb_lock_wait_timeout AS v',
      outerLockTimeoutSql: 'SET SESSION innodb_lock_wait_timeout = 7',
      nestedReadOnly: false,
      // KILL QUERY makes SLEEP() return 1 (no error); the max_statement_time backstop would raise 1969.
      slowQuery: 'SELECT SLEEP(10) AS slept',
      cancelledByDbop: ({ rows, error }) =>
        (rows?.[0] as { slept?: unknown } | undefined)?.slept === 1 ||
        (error as { errno?: unknown })?.errno === 1317,
      close: async () => {
        await connection.end();
        await sidecar.end();
      },
    };
  });
});
