import type { Backend, Classification } from '../core/classification.js';
import { makeClassification } from './error-table.js';
import { guessFlavor } from './mysql/mysql-classify.js';

/**
 * For an error with a database code dbop has no entry for: kind 'unknown', not retryable, but labelled with
 * the code and backend so metrics and logs still count it by code (FAForever's stat_db_errors).
 */
export function unknownWithCode(error: object, dialect: Backend | undefined): Classification | undefined {
  const { code, errno, errcode } = error as Record<string, unknown>;
  if (typeof code === 'string' && code.startsWith('SQLITE_')) return label('sqlite', code);
  if (typeof errcode === 'number') return label('sqlite', String(errcode));
  const mysqlNumber =
    typeof code === 'number' ? code : typeof errno === 'number' && errno > 0 ? errno : undefined;
  if (mysqlNumber !== undefined) {
    return label(dialect ?? guessFlavor(error as Record<string, unknown>), String(mysqlNumber));
  }
  // Node's own 5-letter codes (EBUSY, EPERM) start with E; no SQLSTATE class does.
  if (typeof code === 'string' && code.length === 5 && code[0] !== 'E' && /^[0-9A-Z]{5}$/.test(code)) {
    return label(dialect ?? 'postgres', code);
  }
  return undefined;
}

function label(backend: Backend, code: string): Classification {
  return makeClassification('unknown', 'none', backend, code);
}
