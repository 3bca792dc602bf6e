import { PGlite } from '@electric-sql/pglite';
import { describe } from 'vitest';
import { pgliteSession } from '../../../src/sessions/pglite/index.js';
import { sessionContract } from './session-contract.js';

describe('pgliteSession contract (in-memory PGlite)', () => {
  sessionContract(async () => {
    const db = await PGlite.create();
    return {
      session: pgliteSession(db),
      placeholder: (n) => `$${n}`,
      lockTimeoutQuery: "SELECT current_setting('lock_timeout') AS v",
      outerLockTimeoutSql: "SET LOCAL lock_timeout = '7s'",
      nestedReadOnly: true,
      close: () => db.close(),
    };
  });
});
