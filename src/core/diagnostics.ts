import { type Channel, channel } from 'node:diagnostics_channel';
import type { Classification } from './classification.js';

/**
 * Names of the node:diagnostics_channel channels the engine publishes on. Messages are plain objects
 * ({@link OperationMessage}, {@link AttemptMessage}, {@link RetryMessage}, {@link ErrorMessage},
 * {@link LockWaitMessage}, and the concurrency limiter's LimiterMessage); they never
 * carry SQL parameters, but `error` is the op's own error object, so do not serialize it blindly.
 */
export const channelNames: {
  readonly operation: 'dbop:operation';
  readonly attempt: 'dbop:attempt';
  readonly retry: 'dbop:retry';
  readonly error: 'dbop:error';
  readonly limiter: 'dbop:limiter';
} = Object.freeze({
  operation: 'dbop:operation',
  attempt: 'dbop:attempt',
  retry: 'dbop:retry',
  error: 'dbop:error',
  limiter: 'dbop:limiter',
});

/**
 * What an operation runs against, for diagnostics (OpenTelemetry's db.system.name, db.namespace,
 * server.address and server.port). createDatabase fills it from the URL; never credentials.
 */
export interface OperationTarget {
  /** 'postgresql', 'mysql', 'mariadb' or 'sqlite', as OpenTelemetry's db.system.name spells them. */
  readonly system: string;
  /** The database name (a file path for SQLite). */
  readonly namespace?: string;
  /** The (first) host of the URL. */
  readonly address?: string;
  readonly port?: number;
}

/** How a call ended: its value, the caller's `default`, or an error. */
export type Outcome = 'success' | 'default' | 'error';

/** On 'dbop:operation': once when a call starts and once when it ends. */
export type OperationMessage =
  | {
      readonly phase: 'start';
      readonly operationId: number;
      readonly name: string;
      readonly readOnly: boolean;
      readonly maxRetries: number;
      readonly startedAt: number;
      readonly target?: OperationTarget;
    }
  | {
      readonly phase: 'end';
      readonly operationId: number;
      readonly name: string;
      readonly readOnly: boolean;
      readonly outcome: Outcome;
      readonly attempts: number;
      readonly elapsedMs: number;
      readonly error?: unknown;
      readonly target?: OperationTarget;
    };

/** On 'dbop:attempt': once when an attempt starts and once when it ends. */
export type AttemptMessage =
  | {
      readonly phase: 'start';
      readonly operationId: number;
      readonly name: string;
      readonly attempt: number;
      /** How long this attempt waited for the concurrency limiter's admission; absent when it did not wait. */
      readonly limiterWaitMs?: number;
    }
  | {
      readonly phase: 'end';
      readonly operationId: number;
      readonly name: string;
      readonly attempt: number;
      readonly ok: boolean;
      readonly elapsedMs: number;
      readonly error?: unknown;
    };

/** On 'dbop:retry': the engine decided to retry after `delayMs`. */
export interface RetryMessage {
  readonly operationId: number;
  readonly name: string;
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: unknown;
  readonly classification?: Classification;
}

/** On 'dbop:error': every failed attempt, retried or not, so errors can be counted by kind and code. */
export interface ErrorMessage {
  readonly operationId: number;
  readonly name: string;
  readonly attempt: number;
  readonly error: unknown;
  readonly retryable: boolean;
  readonly classification?: Classification;
  /** What the operation runs against, when the call says (see {@link OperationTarget}). */
  readonly target?: OperationTarget;
}

/** The channel the SQLite session publishes its lock waits on (not the engine's: see {@link channelNames}). */
export const lockWaitChannelName = 'dbop:lock-wait';

/**
 * On 'dbop:lock-wait': a SQLite write transaction's BEGIN IMMEDIATE that had to wait for the write lock
 * (another writer held it), once the wait is over: `acquired` false when it ended in SQLITE_BUSY.
 */
export interface LockWaitMessage {
  readonly backend: 'sqlite';
  readonly waitedMs: number;
  readonly acquired: boolean;
}

/** The channels themselves; publish only after checking `hasSubscribers`, it keeps the hot path cheap. */
export const channels: {
  readonly operation: Channel;
  readonly attempt: Channel;
  readonly retry: Channel;
  readonly error: Channel;
} = Object.freeze({
  operation: channel(channelNames.operation),
  attempt: channel(channelNames.attempt),
  retry: channel(channelNames.retry),
  error: channel(channelNames.error),
});
