import type { Backend, Classification } from '../core/classification.js';
import { classifyCockroachCode, looksLikeCockroach } from './cockroach/cockroach-classify.js';
import { compileTable, variant, withBackend } from './error-table.js';
import { classifyMysqlErrno, type MysqlFlavor } from './mysql/mysql-classify.js';
import { mysql2ClientErrors } from './mysql/mysql-client-errors.js';
import { nodeErrors } from './node-errors.js';
import { prismaErrors } from './orm/prisma-errors.js';
import { classifyPostgresCode } from './postgres/postgres-classify.js';
import { postgresJsClientErrors } from './postgres/postgres-client-errors.js';
import { classifySqliteName, classifySqliteNumber } from './sqlite/sqlite-classify.js';

const nodeCodes = compileTable(nodeErrors, undefined);
const postgresJsCodes = compileTable(postgresJsClientErrors, 'postgres');
const mysql2Codes = compileTable(mysql2ClientErrors, 'mysql');
const prismaCodes = compileTable(prismaErrors, undefined);

/**
 * Classifies one error by its structured fields only (`code`, `errno`, `errcode`), never its message.
 * Undefined when it carries no code dbop knows. Only Map lookups and string slices: this is the hot path.
 */
export function classifyNode(error: object, dialect: Backend | undefined): Classification | undefined {
  const record = error as Record<string, unknown>;
  const { code, errno } = record;
  if (typeof code === 'string') {
    const hit = classifyStringCode(code, record, dialect);
    if (hit !== undefined) return hit;
  } else if (typeof code === 'number' && dialect !== 'sqlite') {
    return classifyMysqlErrno(code, flavorOf(dialect), record); // mysql2: unsolicited server error
  }
  if (typeof errno === 'number' && errno > 0) {
    if (dialect === 'sqlite') return classifySqliteNumber(errno); // node-sqlite3
    if (dialect !== 'postgres' && dialect !== 'cockroach')
      return classifyMysqlErrno(errno, flavorOf(dialect), record);
  }
  if (typeof record.errcode === 'number') return classifySqliteNumber(record.errcode); // node:sqlite
  // PrismaClientInitializationError keeps its code in `errorCode`.
  return typeof record.errorCode === 'string'
    ? withBackend(prismaCodes.get(record.errorCode), dialect)
    : undefined;
}

function classifyStringCode(
  code: string,
  record: Record<string, unknown>,
  dialect: Backend | undefined,
): Classification | undefined {
  if (code.startsWith('SQLITE_')) return classifySqliteName(code);
  const system = nodeCodes.get(code);
  if (system !== undefined) return classifySystemError(system, record, dialect);
  const client = postgresJsCodes.get(code) ?? mysql2Codes.get(code) ?? prismaCodes.get(code);
  if (client !== undefined) return withBackend(client, dialect);
  if (dialect === 'mysql' || dialect === 'mariadb')
    return isDigits(code) ? classifyMysqlErrno(+code, dialect, record) : undefined;
  if (dialect === 'sqlite') return undefined;
  if (code.length === 5) {
    const wire = dialect ?? (looksLikeCockroach(record) ? 'cockroach' : 'postgres');
    return wire === 'cockroach'
      ? classifyCockroachCode(code, record.message)
      : classifyPostgresCode(code, record.message);
  }
  // A 4-digit string is a MySQL number that went through a wrapper (Prisma's meta.code).
  return dialect === undefined && code.length === 4 && isDigits(code)
    ? classifyMysqlErrno(+code, undefined, record)
    : undefined;
}

// At connect time nothing was sent yet, so even a reset or a timeout is a safe connect failure.
function classifySystemError(
  hit: Classification,
  record: Record<string, unknown>,
  dialect: Backend | undefined,
): Classification {
  const atConnect =
    record.syscall === 'connect' ||
    (typeof record.message === 'string' && record.message.startsWith('connect '));
  const result = hit.kind === 'connection-lost' && atConnect ? variant(hit, { kind: 'connect-failed' }) : hit;
  return withBackend(result, dialect);
}

function flavorOf(dialect: Backend | undefined): MysqlFlavor | undefined {
  return dialect === 'mysql' || dialect === 'mariadb' ? dialect : undefined;
}

function isDigits(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return text.length > 0;
}
