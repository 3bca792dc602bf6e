import type { Session } from '../core/session.js';
import { readRoleProbe, roleProbeStatements } from '../dialects/role-probe.js';
import type { HostRole } from './target-session-attrs.js';

/**
 * Asks the server behind `session` its role (outside any transaction, before any work): Postgres
 * pg_is_in_recovery() and transaction_read_only, the MySQL family read_only / super_read_only and Galera's
 * wsrep_ready / wsrep_local_state. SQLite and PGlite are always a read-write primary.
 */
export async function probeRole(session: Session): Promise<HostRole> {
  const statements = roleProbeStatements(session.dialect);
  const rows: Record<string, unknown>[] = [];
  for (const sql of statements) rows.push(...(await session.query(sql)).rows);
  return readRoleProbe(session.dialect, rows);
}
