import * as mariadb from 'mariadb';
import { mariadbSession } from '../../../src/sessions/mariadb/index.js';
import { describeIfMariadb, mariadbUrl } from '../../support/servers.js';
import { sessionContract } from './session-contract.js';

describeIfMariadb('mariadbSession contract (mariadb connector)', () => {
  sessionContract(async () => {
    const url = new URL(mariadbUrl());
    const config = {
      host: url.hostname,
      port: Number(url.port),
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      database: url.pathname.slice(1),
    };
    const connection = await mariadb.createConnection(config);
    const sidecar = await mariadb.createConnection(config);
    return {
      session: mariadbSession(connection, { sidecar }),
      placeholder: () => '?',
      lockTimeoutQuery: 'SELECT @@SESSION.innodb_lock_wait_timeout AS v',
      outerLockTimeoutSql: 'SET SESSION innodb_lock_wait_timeout = 7',
      nestedReadOnly: false,
      // KILL QUERY makes SLEEP() return 1 (no error); the max_statement_time backstop would raise 1969.
      slowQuery: 'SELECT SLEEP(10) AS slept',
      cancelledByDbop: ({ rows, error }) =>
        Number((rows?.[0] as { slept?: unknown } | undefined)?.slept) === 1 ||
        (error as { errno?: unknown })?.errno === 1317,
      close: async () => {
        await connection.end();
        await sidecar.end();
      },
    };
  });
});
