import pg from 'pg';
import { pgSession } from '../../../src/sessions/pg/index.js';
import { describeIfPostgres, postgresUrl } from '../../support/servers.js';
import { sessionContract } from './session-contract.js';

describeIfPostgres('pgSession contract (node-postgres Client)', () => {
  sessionContract(async () => {
    const client = new pg.Client({ connectionString: postgresUrl() });
    const sidecar = new pg.Client({ connectionString: postgresUrl() });
    await client.connect();
    await sidecar.connect();
    return {
      session: pgSession(client, { sidecar }),
      placeholder: (n) => `$${n}`,
      lockTimeoutQuery: "SELECT current_setting('lock_timeout') AS v",
      outerLockTimeoutSql: "SET LOCAL lock_timeout = '7s'",
      nestedReadOnly: true,
      slowQuery: 'SELECT pg_sleep(10)',
      cancelledByDbop: ({ error }) => /user request/.test(String(error)),
      close: async () => {
        await client.end();
        await sidecar.end();
      },
    };
  });
});
