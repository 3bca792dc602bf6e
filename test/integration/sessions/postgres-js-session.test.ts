import postgres from 'postgres';
import { postgresJsSession } from '../../../src/sessions/postgres-js/index.js';
import { describeIfPostgres, postgresUrl } from '../../support/servers.js';
import { sessionContract } from './session-contract.js';

describeIfPostgres('postgresJsSession contract (reserved postgres.js connection)', () => {
  sessionContract(async () => {
    const sql = postgres(postgresUrl(), { max: 2, onnotice: () => undefined });
    const reserved = await sql.reserve();
    return {
      session: postgresJsSession(reserved, { sidecar: sql }),
      placeholder: (n) => `$${n}`,
      lockTimeoutQuery: "SELECT current_setting('lock_timeout') AS v",
      outerLockTimeoutSql: "SET LOCAL lock_timeout = '7s'",
      nestedReadOnly: true,
      slowQuery: 'SELECT pg_sleep(10)',
      cancelledByDbop: ({ error }) => /user request/.test(String(error)),
      close: async () => {
        reserved.release();
        await sql.end();
      },
    };
  });
});
