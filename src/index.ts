// The public API of `dbop`. Driver adapters are separate subpaths (dbop/pg, dbop/mysql2, ...), so that
// importing `dbop` never loads a driver.

export type { DsnChanges } from './connect/build-dsn.js';
export { buildDsn } from './connect/build-dsn.js';
export type {
  ConnectionFactory,
  ConnectionFactoryOptions,
  HostConnection,
  HostDriver,
} from './connect/connection-factory.js';
export { connectionFactory, hostLabel } from './connect/connection-factory.js';
export { DatabaseUrlError } from './connect/database-url-error.js';
export type { DriverName, Dsn, DsnHost, DsnScheme } from './connect/dsn.js';
export { maxDsnLength } from './connect/dsn.js';
export { formatDsn } from './connect/format-dsn.js';
export { isDsnMultihost } from './connect/is-dsn-multihost.js';
export type { HostFailure } from './connect/no-host-available-error.js';
export { NoHostAvailableError } from './connect/no-host-available-error.js';
export { parseDsn } from './connect/parse-dsn.js';
export { probeRole } from './connect/probe-role.js';
export { redactDsn } from './connect/redact-dsn.js';
export { redactSecrets } from './connect/redact-secrets.js';
export type { HostRole, TargetSessionAttrs } from './connect/target-session-attrs.js';
export { targetSessionAttrsValues } from './connect/target-session-attrs.js';
export type { AppliedTimeouts } from './core/apply-timeouts.js';
export { applyTimeouts } from './core/apply-timeouts.js';
export type { AttemptContext, AttemptScope, ScopeFactory } from './core/attempt.js';
export type { AttemptScopeOptions } from './core/attempt-scope.js';
export { attemptScope } from './core/attempt-scope.js';
export type { Backend, Classification, Classifier, ErrorKind, RetryScope } from './core/classification.js';
export { backends, errorKinds, retryScopes } from './core/classification.js';
export type { Clock } from './core/clock.js';
export { systemClock } from './core/clock.js';
export { isCommitInFlight, markCommitInFlight } from './core/commit-marker.js';
export type {
  AdmissionOutcome,
  ConcurrencyLimiterOptions,
  LimiterMessage,
  LimiterStats,
  Permit,
} from './core/concurrency-limiter.js';
export { AdmissionTimeoutError, ConcurrencyLimiter, contentionKinds } from './core/concurrency-limiter.js';
export type {
  AttemptMessage,
  ErrorMessage,
  OperationMessage,
  Outcome,
  RetryMessage,
} from './core/diagnostics.js';
export { channelNames } from './core/diagnostics.js';
export type { DialectSql, SettingScope, SettingStatements, TimeoutSettings } from './core/dialect-sql.js';
export type { DbopErrorOptions } from './core/errors.js';
export {
  AmbiguousCommitError,
  AttemptStillRunningError,
  AttemptTimeoutError,
  coreErrorCodes,
  DbopError,
  DeadlineExceededError,
  isAmbiguousCommitError,
  isAttemptTimeoutError,
  isDbopError,
  isDeadlineExceededError,
} from './core/errors.js';
export type { ExecuteFunction } from './core/execute.js';
export type {
  ExecuteOptions,
  GiveUpEvent,
  GiveUpReason,
  Logger,
  Operation,
  RetryEvent,
  RetryMatcher,
  SuccessEvent,
} from './core/execute-options.js';
export type { RetryBudgetOptions } from './core/retry-budget.js';
export { RetryBudget } from './core/retry-budget.js';
export type { Jitter, JitterKind, RetryPolicy, RetryPolicyOptions } from './core/retry-policy.js';
export { isRetryPolicy, jitterKinds, retryPolicy } from './core/retry-policy.js';
export type {
  AlsoRun,
  BeginOptions,
  IsolationLevel,
  QueryResult,
  RollbackToOptions,
  Session,
  SessionSource,
} from './core/session.js';
export { isolationLevels, isSessionSource } from './core/session.js';
export { maxTimeoutMs } from './core/validate.js';
export type { BoundStatement, ParameterDialect, SqlParameters } from './database/bind-parameters.js';
export { bindParameters } from './database/bind-parameters.js';
export type { DatabaseOptions } from './database/create-database.js';
export { createDatabase } from './database/create-database.js';
export type { AcquireOptions, DatabaseStep } from './database/database.js';
export { Database } from './database/database.js';
export type { DeadlockRetryOptions } from './database/database-connection.js';
export { DatabaseConnection } from './database/database-connection.js';
export {
  ConnectionEndedError,
  DatabaseClosedError,
  DriverMissingError,
  ParameterError,
} from './database/database-errors.js';
export type { DatabaseStats } from './database/database-stats.js';
export type { ErrorCounts } from './database/error-counter.js';
export { markCancelledByDbop } from './dialects/cancel-marker.js';
export { classifierFor, classify, isTransient } from './dialects/classify.js';
export type { ClassifyOptions, InFlight } from './dialects/classify-options.js';
export { execute } from './execute.js';
export type { WithRetryOptions } from './retry-decorators.js';
export { attemptsEnvVars, attemptsFromEnv, postgresRetry, retryable, withRetry } from './retry-decorators.js';
export type {
  DbOpRunnerOptions,
  RunOptions,
  StepFunction,
  TransactionBeginOptions,
  TransactionOptions,
} from './runner/index.js';
export { DbOpRunner, isEscalated, Transaction } from './runner/index.js';
