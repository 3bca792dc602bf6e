/** Every kind of failure dbop tells apart. The kind says what happened; `scope` says where a retry is valid. */
export const errorKinds = [
  'serialization',
  'deadlock',
  'lock-timeout',
  'statement-timeout',
  'attempt-timeout',
  'connection-lost',
  'connect-failed',
  'too-many-connections',
  'server-shutdown',
  'server-starting',
  'read-only',
  'cancelled',
  'pool-exhausted',
  'constraint',
  'syntax',
  'auth',
  'unknown',
] as const;

/** One of {@link errorKinds}. */
export type ErrorKind = (typeof errorKinds)[number];

/**
 * Where a retry is valid: 'statement' (ROLLBACK TO SAVEPOINT and re-run the step), 'transaction' (only a
 * restart of the whole transaction helps), 'connection' (a new connection, then a restart), 'none'.
 */
export const retryScopes = ['statement', 'transaction', 'connection', 'none'] as const;

/** One of {@link retryScopes}. */
export type RetryScope = (typeof retryScopes)[number];

/** The database families dbop knows the errors of. */
export const backends = ['postgres', 'mysql', 'mariadb', 'sqlite', 'cockroach'] as const;

/** One of {@link backends}. */
export type Backend = (typeof backends)[number];

/** What dbop concluded about one error. */
export interface Classification {
  readonly kind: ErrorKind;
  /** Whether trying again can succeed (at `scope`). */
  readonly retryable: boolean;
  readonly scope: RetryScope;
  /** True when a COMMIT or an autocommit write was in flight: its outcome is unknown. */
  readonly ambiguous: boolean;
  readonly backend?: Backend;
  /** The code the driver or server gave (SQLSTATE, errno as a string, SQLite code name...). */
  readonly code?: string;
}

/** Decides whether an error is worth another attempt: a boolean, or a full {@link Classification}. */
export type Classifier = (error: unknown) => boolean | Classification;
