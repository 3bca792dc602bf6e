import type { Classification } from '../../core/classification.js';
import { compileTable, makeClassification } from '../error-table.js';
import { postgresErrorClasses, postgresErrors } from './postgres-errors.js';

/** The Postgres-wire backends; CockroachDB reuses Postgres' table under its own overrides. */
export type PostgresWire = 'postgres' | 'cockroach';

const exact = {
  postgres: compileTable(postgresErrors, 'postgres'),
  cockroach: compileTable(postgresErrors, 'cockroach'),
};
const classes = {
  postgres: compileTable(postgresErrorClasses, 'postgres'),
  cockroach: compileTable(postgresErrorClasses, 'cockroach'),
};
const userCancel = {
  postgres: makeClassification('cancelled', 'statement', 'postgres', '57014'),
  cockroach: makeClassification('cancelled', 'statement', 'cockroach', '57014'),
};

/**
 * Classifies a SQLSTATE: exact code first (so 42501 wins over class 42), then its class. 57014 is a user
 * cancel only when the text says so; any other text (statement timeout, or a localized message) counts as a
 * statement timeout, since dbop's own per-attempt statement_timeout is what usually raises it.
 */
export function classifyPostgresCode(
  code: string,
  message: unknown,
  backend: PostgresWire = 'postgres',
): Classification | undefined {
  const hit = exact[backend].get(code);
  if (hit !== undefined) {
    if (code === '57014' && typeof message === 'string' && message.includes('user request'))
      return userCancel[backend];
    return hit;
  }
  const family = classes[backend].get(code.slice(0, 2));
  return family === undefined ? undefined : makeClassification(family.kind, family.scope, backend, code);
}
