import postgres from 'postgres';
import { postgresJsSession } from '../../../src/sessions/postgres-js/index.js';
import { describeIfPostgres, postgresUrl } from '../../support/servers.js';
import { postgresContract } from './postgres-fixture.js';
import { sessionContract } from './session-contract.js';

describeIfPostgres('postgresJsSession contract (reserved postgres.js connection)', () => {
  sessionContract(async () => {
    const sql = postgres(postgresUrl(), { max: 2, onnotice: () => undefined });
    const reserved = await sql.reserve();
    return {
      ...postgresContract,
      session: postgresJsSession(reserved, { sidecar: sql }),
      close: async () => {
        reserved.release();
        await sql.end();
      },
    };
  });
});
