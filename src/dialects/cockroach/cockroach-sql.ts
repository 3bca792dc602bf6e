import type { DialectSql } from '../../core/dialect-sql.js';
import { postgresSql } from '../postgres/postgres-sql.js';

/**
 * CockroachDB scope SQL: Postgres syntax, but no read-only switch inside a savepoint and no
 * pg_current_xact_id (its 40003 "result is ambiguous" is reported by the server instead).
 */
export function cockroachSql(): DialectSql {
  const {
    transactionIdQuery: _unused,
    assignTransactionIdQuery: _unusedToo,
    transactionHistory: _noHistory,
    ...base
  } = postgresSql('cockroach');
  return Object.freeze({ ...base, readOnlyStep: () => undefined });
}
