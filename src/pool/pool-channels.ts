import { type Channel, channel } from 'node:diagnostics_channel';

/** Names of the pool's node:diagnostics_channel channels. */
export const poolChannelNames: {
  readonly acquire: 'dbop:pool:acquire';
  readonly release: 'dbop:pool:release';
  readonly create: 'dbop:pool:create';
  readonly destroy: 'dbop:pool:destroy';
  readonly timeout: 'dbop:pool:timeout';
  readonly leak: 'dbop:pool:leak';
} = Object.freeze({
  acquire: 'dbop:pool:acquire',
  release: 'dbop:pool:release',
  create: 'dbop:pool:create',
  destroy: 'dbop:pool:destroy',
  timeout: 'dbop:pool:timeout',
  leak: 'dbop:pool:leak',
});

/** The counts every pool message carries, taken after the event. */
export interface PoolCountsMessage {
  readonly pool: string;
  /** Open connections plus connections being opened. */
  readonly size: number;
  readonly idle: number;
  readonly inUse: number;
  /** Callers waiting for a connection. */
  readonly pending: number;
}

/** On 'dbop:pool:acquire': a caller got a connection after `waitMs` (0 when one was idle). */
export interface PoolAcquireMessage extends PoolCountsMessage {
  readonly waitMs: number;
  readonly shared: boolean;
}

/** On 'dbop:pool:release': a connection came back after `heldMs`. */
export interface PoolReleaseMessage extends PoolCountsMessage {
  readonly heldMs: number;
}

/** On 'dbop:pool:create': a connection attempt ended, opened (`ok`) or failed with `error`. */
export interface PoolCreateMessage extends PoolCountsMessage {
  readonly ok: boolean;
  readonly durationMs: number;
  readonly error?: unknown;
}

/** Why the pool ended a connection. */
export type DestroyReason =
  | 'broken'
  | 'in-transaction'
  | 'reset-failed'
  | 'ping-failed'
  | 'max-usage'
  | 'max-lifetime'
  | 'idle-timeout'
  | 'max-idle'
  | 'failure'
  | 'released-destroyed'
  | 'set-session-failed'
  | 'closed';

/** On 'dbop:pool:destroy': a connection was ended for `reason`. */
export interface PoolDestroyMessage extends PoolCountsMessage {
  readonly reason: DestroyReason;
  readonly error?: unknown;
}

/** On 'dbop:pool:timeout': an acquire gave up after `timeoutMs`. */
export interface PoolTimeoutMessage extends PoolCountsMessage {
  readonly timeoutMs: number;
  readonly error: unknown;
}

/** On 'dbop:pool:leak': a connection is held longer than `leakDetectionMs`. */
export interface PoolLeakMessage extends PoolCountsMessage {
  readonly heldMs: number;
  readonly holder?: string;
  /** Where it was acquired. */
  readonly stack: string;
}

/** The channels; publish only after checking `hasSubscribers`, which keeps acquire and release cheap. */
export const poolChannels: {
  readonly acquire: Channel;
  readonly release: Channel;
  readonly create: Channel;
  readonly destroy: Channel;
  readonly timeout: Channel;
  readonly leak: Channel;
} = Object.freeze({
  acquire: channel(poolChannelNames.acquire),
  release: channel(poolChannelNames.release),
  create: channel(poolChannelNames.create),
  destroy: channel(poolChannelNames.destroy),
  timeout: channel(poolChannelNames.timeout),
  leak: channel(poolChannelNames.leak),
});
