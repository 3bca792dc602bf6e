import type { Dsn, DsnHost } from './dsn.js';
import { sealDsn } from './seal-dsn.js';

/** What {@link buildDsn} may change. */
export interface DsnChanges {
  /** Other hosts (network URLs only), e.g. one host of a multi-host URL. */
  readonly hosts?: readonly DsnHost[];
  /** Another database on the same servers. */
  readonly database?: string;
  /** Other query parameters (replacing the URL's), e.g. without target_session_attrs. */
  readonly query?: Readonly<Record<string, string>>;
}

/**
 * A new Dsn with some parts changed and the credentials kept.
 * @example buildDsn(parseDsn('postgres://u:pw@h1,h2/db'), { hosts: [{ host: 'h2' }] }).redacted // 'postgres://u:***@h2/db'
 */
export function buildDsn(dsn: Dsn, changes: DsnChanges): Dsn {
  if (typeof changes !== 'object' || changes === null) {
    throw new TypeError('Expected the changes of buildDsn() to be an object');
  }
  if (changes.hosts !== undefined && (dsn.hosts === undefined || changes.hosts.length === 0)) {
    throw new TypeError('Expected `hosts` to be a non-empty array, for a network URL');
  }
  const { password, redacted: _redacted, ...parts } = dsn;
  return sealDsn(
    {
      ...parts,
      ...(changes.hosts === undefined ? {} : { hosts: changes.hosts }),
      ...(changes.database === undefined ? {} : { database: changes.database }),
      ...(changes.query === undefined ? {} : { query: Object.freeze({ ...changes.query }) }),
    },
    password,
  );
}
