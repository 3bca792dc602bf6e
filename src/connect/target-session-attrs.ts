/** Which server a connection must reach, as libpq's `target_session_attrs` names it. */
export const targetSessionAttrsValues = [
  'any',
  'read-write',
  'read-only',
  'primary',
  'standby',
  'prefer-standby',
] as const;

/** One of {@link targetSessionAttrsValues}. */
export type TargetSessionAttrs = (typeof targetSessionAttrsValues)[number];

/**
 * What a server said about itself right after connecting. `standby`: Postgres in recovery; on the MySQL
 * family (no reliable replica flag without privileges) a read-only server. `unavailable`: why the server
 * must not be used at all (a Galera node that is not synced), else absent.
 */
export interface HostRole {
  readonly readOnly: boolean;
  readonly standby: boolean;
  readonly unavailable?: string;
}

/** True when a server of `role` satisfies `attrs`; prefer-standby asks for a standby (the fallback is the caller's). */
export function roleMatches(attrs: TargetSessionAttrs, role: HostRole): boolean {
  if (role.unavailable !== undefined) return false;
  switch (attrs) {
    case 'any':
      return true;
    case 'read-write':
      return !role.readOnly;
    case 'read-only':
      return role.readOnly;
    case 'primary':
      return !role.standby;
    case 'standby':
    case 'prefer-standby':
      return role.standby;
  }
}

/** The role in words, for errors and `dbop check`: "primary (read-write)", "standby (read-only)". */
export function describeRole(role: HostRole): string {
  if (role.unavailable !== undefined) return `unavailable: ${role.unavailable}`;
  const kind = role.standby ? 'standby' : 'primary';
  return `${kind} (${role.readOnly ? 'read-only' : 'read-write'})`;
}

/** True for a value of {@link targetSessionAttrsValues}. */
export function isTargetSessionAttrs(value: unknown): value is TargetSessionAttrs {
  return (targetSessionAttrsValues as readonly unknown[]).includes(value);
}
