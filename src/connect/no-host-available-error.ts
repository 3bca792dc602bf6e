import { DbopError } from '../core/errors.js';
import type { HostRole, TargetSessionAttrs } from './target-session-attrs.js';

/**
 * Why one host was not used: `host` is `name:port` (never credentials); `reason` is redacted; `role` is
 * what the host said it was when it was reached but had the wrong role.
 */
export interface HostFailure {
  readonly host: string;
  readonly reason: string;
  readonly role?: HostRole;
}

/**
 * No host of a (multi-host) URL was reachable and of the role asked for. `failures` lists each host tried
 * with its reason, in the order tried. Classified as connect-failed at connection scope: during a failover
 * the next attempt can find the new primary. When every host refused the login for good (wrong password,
 * no such user or database), `final` is true and the code is DBOP_NO_HOST_ACCEPTS: an auth error, not
 * retried, since waiting out an outage cannot fix a URL.
 */
export class NoHostAvailableError extends DbopError {
  readonly targetSessionAttrs: TargetSessionAttrs;
  readonly failures: readonly HostFailure[];
  readonly final: boolean;

  constructor(
    targetSessionAttrs: TargetSessionAttrs,
    failures: readonly HostFailure[],
    options: { readonly final?: boolean } = {},
  ) {
    const listed = failures.map((f) => `${f.host} (${f.reason})`).join('; ');
    const final = options.final === true && failures.length > 0;
    super(
      final ? noHostAcceptsCode : noHostAvailableCode,
      final
        ? `Every host refused the login (check the URL's user, password and database): ${listed}`
        : `No host available for target_session_attrs=${targetSessionAttrs}: ${listed || 'no hosts to try'}`,
    );
    this.final = final;
    this.targetSessionAttrs = targetSessionAttrs;
    this.failures = Object.freeze(failures.map((f) => Object.freeze({ ...f })));
  }

  /** True when some host was reached but had another role: a failover may be under way. */
  get someHostReached(): boolean {
    return this.failures.some((f) => f.role !== undefined);
  }
}

/** The stable code of {@link NoHostAvailableError}. */
export const noHostAvailableCode = 'DBOP_NO_HOST_AVAILABLE';

/** The code of a {@link NoHostAvailableError} whose every host refused the login for good. */
export const noHostAcceptsCode = 'DBOP_NO_HOST_ACCEPTS';
