import type { Dsn } from './dsn.js';
import { formatDsnParts } from './format-dsn.js';

/** The parts of a {@link Dsn} before sealing: everything but the password and the redacted form. */
export type DsnParts = Omit<Dsn, 'password' | 'redacted'>;

/** Freezes the parts into a Dsn; the password goes on non-enumerable, so it never prints. */
export function sealDsn(parts: DsnParts, password?: string): Dsn {
  const dsn: DsnParts & { redacted: string } = {
    ...parts,
    ...(parts.hosts === undefined
      ? {}
      : { hosts: Object.freeze(parts.hosts.map((host) => Object.freeze({ ...host }))) }),
    ...(parts.query === undefined ? {} : { query: Object.freeze({ ...parts.query }) }),
    redacted: formatDsnParts(parts, password === undefined ? undefined : '***'),
  };
  if (password !== undefined) Object.defineProperty(dsn, 'password', { value: password, enumerable: false });
  return Object.freeze(dsn);
}
