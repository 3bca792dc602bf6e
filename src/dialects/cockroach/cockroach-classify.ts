import type { Classification } from '../../core/classification.js';
import { compileTable } from '../error-table.js';
import { classifyPostgresCode } from '../postgres/postgres-classify.js';
import { cockroachErrors } from './cockroach-errors.js';

const overrides = compileTable(cockroachErrors, 'cockroach');

/** Classifies a CockroachDB SQLSTATE: its own entries (40003 ambiguous), then Postgres' table. */
export function classifyCockroachCode(code: string, message: unknown): Classification | undefined {
  return overrides.get(code) ?? classifyPostgresCode(code, message, 'cockroach');
}

/** CockroachDB reports the Go source file of an error in the `file` field; Postgres reports a .c file. */
export function looksLikeCockroach(error: Record<string, unknown>): boolean {
  return typeof error.file === 'string' && error.file.endsWith('.go');
}
