import pg from 'pg';
import { pgSession } from '../../../src/sessions/pg/index.js';
import type { ContractFixture } from './session-contract.js';

/** What every PostgreSQL adapter's contract fixture says the same way. */
export const postgresContract: Omit<ContractFixture, 'session' | 'close'> = {
  placeholder: (n) => `$${n}`,
  lockTimeoutQuery: "SELECT current_setting('lock_timeout') AS v",
  outerLockTimeoutSql: "SET LOCAL lock_timeout = '7s'",
  nestedReadOnly: true,
  slowQuery: 'SELECT pg_sleep(10)',
  cancelledByDbop: ({ error }) => /user request/.test(String(error)),
};

/** A pgSession on a node-postgres Client to `url`, with a sidecar Client for cancels and commit checks. */
export async function pgContractFixture(url: string): Promise<ContractFixture> {
  const client = new pg.Client({ connectionString: url });
  const sidecar = new pg.Client({ connectionString: url });
  await client.connect();
  await sidecar.connect();
  return {
    ...postgresContract,
    session: pgSession(client, { sidecar }),
    close: async () => {
      await client.end();
      await sidecar.end();
    },
  };
}
