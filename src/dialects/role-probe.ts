import type { Backend } from '../core/classification.js';

/**
 * The statements that ask a server its role right after connecting, each answering rows of
 * `{ name, value }` (lower-case names): Postgres `in_recovery` (pg_is_in_recovery()) and
 * `transaction_read_only`; the MySQL family `read_only`, `super_read_only` (MySQL only) and, on Galera
 * (`wsrep_on`), `wsrep_ready` and `wsrep_local_state` (4 = Synced). A variable the server lacks is simply absent.
 */
export function roleProbeStatements(backend: Backend): readonly string[] {
  if (backend === 'postgres' || backend === 'cockroach') {
    return [
      "SELECT 'in_recovery' AS name, pg_is_in_recovery()::text AS value UNION ALL SELECT 'transaction_read_only', current_setting('transaction_read_only')",
    ];
  }
  if (backend === 'mysql' || backend === 'mariadb') {
    return [
      "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('read_only', 'super_read_only', 'wsrep_on')",
      "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_ready', 'wsrep_local_state', 'wsrep_local_state_comment')",
    ];
  }
  return [];
}

/** Role facts read from {@link roleProbeStatements}' rows. */
export interface ProbedRole {
  readonly readOnly: boolean;
  readonly standby: boolean;
  readonly unavailable?: string;
}

/** Reads the probe's rows (any column names: the first is the name, the second the value). */
export function readRoleProbe(backend: Backend, rows: readonly Record<string, unknown>[]): ProbedRole {
  const facts = new Map<string, string>();
  for (const row of rows) {
    const [name, value] = Object.values(row);
    facts.set(String(name).toLowerCase(), String(value).toLowerCase());
  }
  const on = (name: string): boolean => ['on', '1', 'true', 't'].includes(facts.get(name) ?? '');
  if (backend === 'postgres' || backend === 'cockroach') {
    return { standby: on('in_recovery'), readOnly: on('transaction_read_only') || on('in_recovery') };
  }
  const readOnly = on('read_only') || on('super_read_only');
  // A MariaDB without Galera still reports wsrep_ready OFF: the node's state counts only with wsrep_on.
  const galera = on('wsrep_on');
  const ready = galera ? facts.get('wsrep_ready') : undefined;
  const state = galera ? facts.get('wsrep_local_state') : undefined;
  let unavailable: string | undefined;
  if (ready !== undefined && ready !== 'on') unavailable = `Galera node not ready (wsrep_ready ${ready})`;
  else if (state !== undefined && state !== '4') {
    const comment = facts.get('wsrep_local_state_comment');
    unavailable = `Galera node not synced (wsrep_local_state ${state}${comment === undefined ? '' : ` ${comment}`})`;
  }
  return unavailable === undefined
    ? { readOnly, standby: readOnly }
    : { readOnly, standby: readOnly, unavailable };
}
