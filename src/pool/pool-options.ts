import { type Clock, systemClock } from '../core/clock.js';
import {
  expectDelayMs,
  expectIntegerAtLeast,
  expectOptionalFunction,
  expectOptionalLogger,
  expectOptionalOneOf,
  expectOptions,
  expectTimerMs,
  invalid,
  orDefault,
} from '../core/validate.js';
import { classify } from '../dialects/classify.js';

/** When a pooled connection is pinged before it is handed out. */
export const poolPingModes = ['idle', 'acquire', 'never'] as const;
/** One of {@link poolPingModes}: 'idle' pings one idle for longer than `validateIdleMs` (HikariCP's way). */
export type PoolPingMode = (typeof poolPingModes)[number];

/** When a released connection goes through the factory's `reset`. */
export const poolResetModes = ['unknown', 'always', 'never'] as const;
/** One of {@link poolResetModes}: 'unknown' resets only when the factory cannot tell the transaction state. */
export type PoolResetMode = (typeof poolResetModes)[number];

/** The pool's logger: pino's shape. */
export interface PoolLogger {
  warn?(object: object, message: string): void;
  error?(object: object, message: string): void;
}

/** Options of createPool (DBUtils' knobs under the names Node users know, plus HikariCP's). */
export interface PoolOptions {
  /** Shown in errors, stats and channel messages. Default 'pool'. */
  readonly name?: string;
  /** Most connections open at once, shared ones included (DBUtils' maxconnections). Default 10. */
  readonly max?: number;
  /** Connections kept open even when idle (DBUtils' mincached). Default 0. */
  readonly minIdle?: number;
  /** Most idle connections kept; one released beyond it is closed (DBUtils' maxcached). Default max. */
  readonly maxIdle?: number;
  /**
   * Connections `acquire({ shared: true })` callers share (DBUtils' maxshared); only one the factory's
   * status() reports 'idle' (outside any transaction) takes another caller. Default 0: no sharing.
   */
  readonly maxShared?: number;
  /** How long acquire() waits, ms; 0 fails at once when none is free (DBUtils' blocking=False). Default 30000. */
  readonly acquireTimeoutMs?: number;
  /** How long opening one connection may take, ms. Default 10000. */
  readonly connectTimeoutMs?: number;
  /** An idle connection beyond `minIdle` is closed after this long, ms; 0 never. Default 600000. */
  readonly idleTimeoutMs?: number;
  /** A connection is retired after this long, ms, minus up to `maxLifetimeJitterMs`; 0 never. Default 1800000. */
  readonly maxLifetimeMs?: number;
  /** Spread of the retirements, so connections opened together do not close together. Default 2.5% of maxLifetimeMs. */
  readonly maxLifetimeJitterMs?: number;
  /** A connection is retired after this many uses (DBUtils' maxusage); 0 never. Default 0. */
  readonly maxUsage?: number;
  /** Statements run on every new connection, before its first use (DBUtils' setsession). */
  readonly setSession?: readonly string[];
  /** When a released connection goes through the factory's reset (DBUtils' reset). Default 'unknown'. */
  readonly reset?: PoolResetMode;
  /** Which errors passed to release() mean the connection is broken (DBUtils' failures). Default: scope 'connection'. */
  readonly failures?: (error: unknown) => boolean;
  /** When a connection is pinged before it is handed out (DBUtils' ping). Default 'idle'. */
  readonly ping?: PoolPingMode;
  /** With ping 'idle': a connection idle longer than this, ms, is pinged first. Default 1000. */
  readonly validateIdleMs?: number;
  /** A connection held longer than this, ms, is reported with its acquirer's stack; 0 off. Default: off. */
  readonly leakDetectionMs?: number;
  /** close() waits this long for borrowed connections, ms, then ends them. Default 30000. */
  readonly closeTimeoutMs?: number;
  readonly logger?: PoolLogger;
  readonly clock?: Clock;
  readonly random?: () => number;
}

/** {@link PoolOptions} resolved and frozen. */
export interface ResolvedPoolOptions {
  readonly name: string;
  readonly max: number;
  readonly minIdle: number;
  readonly maxIdle: number;
  readonly maxShared: number;
  readonly acquireTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxLifetimeMs: number;
  readonly maxLifetimeJitterMs: number;
  readonly maxUsage: number;
  readonly setSession: readonly string[];
  readonly reset: PoolResetMode;
  readonly failures: (error: unknown) => boolean;
  readonly ping: PoolPingMode;
  readonly validateIdleMs: number;
  readonly leakDetectionMs: number;
  readonly closeTimeoutMs: number;
  readonly logger: PoolLogger | undefined;
  readonly clock: Clock;
  readonly random: () => number;
}

/** The option keys of createPool. */
export const poolOptionKeys: ReadonlySet<string> = new Set([
  'name',
  'max',
  'minIdle',
  'maxIdle',
  'maxShared',
  'acquireTimeoutMs',
  'connectTimeoutMs',
  'idleTimeoutMs',
  'maxLifetimeMs',
  'maxLifetimeJitterMs',
  'maxUsage',
  'setSession',
  'reset',
  'failures',
  'ping',
  'validateIdleMs',
  'leakDetectionMs',
  'closeTimeoutMs',
  'logger',
  'clock',
  'random',
]);

/** The default `failures`: dbop's classification says the connection itself is gone. */
export function connectionFailure(error: unknown): boolean {
  return classify(error).scope === 'connection';
}

/** Validates and freezes createPool's options. */
export function resolvePoolOptions(
  input: PoolOptions | undefined,
  where = 'createPool',
): ResolvedPoolOptions {
  const options = expectOptions(input, poolOptionKeys, where);
  const name = orDefault(options.name, 'pool');
  if (typeof name !== 'string' || name.length === 0) invalid('name', 'a non-empty string', name);
  const max = expectIntegerAtLeast('max', orDefault(options.max, 10), 1, 10_000);
  const minIdle = expectIntegerAtLeast('minIdle', orDefault(options.minIdle, 0), 0, max);
  const maxIdle = expectIntegerAtLeast('maxIdle', orDefault(options.maxIdle, max), 0, max);
  if (maxIdle < minIdle) invalid('maxIdle', `at least minIdle (${minIdle})`, maxIdle);
  const maxShared = expectIntegerAtLeast('maxShared', orDefault(options.maxShared, 0), 0, max);
  const maxLifetimeMs = optionalTimer('maxLifetimeMs', orDefault(options.maxLifetimeMs, 1_800_000));
  const jitter = expectDelayMs(
    'maxLifetimeJitterMs',
    orDefault(options.maxLifetimeJitterMs, Math.floor(maxLifetimeMs * 0.025)),
  );
  if (maxLifetimeMs > 0 && jitter >= maxLifetimeMs)
    invalid('maxLifetimeJitterMs', `less than maxLifetimeMs (${maxLifetimeMs})`, jitter);
  expectOptionalFunction('failures', options.failures);
  expectOptionalFunction('random', options.random);
  const clock = orDefault(options.clock, systemClock);
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function')
    invalid('clock', 'a Clock (now, setTimeout, clearTimeout)', clock);
  return Object.freeze({
    name,
    max,
    minIdle,
    maxIdle,
    maxShared,
    acquireTimeoutMs: expectDelayMs('acquireTimeoutMs', orDefault(options.acquireTimeoutMs, 30_000)),
    connectTimeoutMs: expectTimerMs('connectTimeoutMs', orDefault(options.connectTimeoutMs, 10_000)),
    idleTimeoutMs: optionalTimer('idleTimeoutMs', orDefault(options.idleTimeoutMs, 600_000)),
    maxLifetimeMs,
    maxLifetimeJitterMs: maxLifetimeMs === 0 ? 0 : jitter,
    maxUsage: expectIntegerAtLeast('maxUsage', orDefault(options.maxUsage, 0), 0),
    setSession: resolveSetSession(options.setSession),
    reset: orDefault(expectOptionalOneOf('reset', options.reset, poolResetModes), 'unknown'),
    failures: orDefault(options.failures, connectionFailure),
    ping: orDefault(expectOptionalOneOf('ping', options.ping, poolPingModes), 'idle'),
    validateIdleMs: expectDelayMs('validateIdleMs', orDefault(options.validateIdleMs, 1000)),
    leakDetectionMs: optionalTimer('leakDetectionMs', orDefault(options.leakDetectionMs, 0)),
    closeTimeoutMs: expectDelayMs('closeTimeoutMs', orDefault(options.closeTimeoutMs, 30_000)),
    logger: expectOptionalLogger<PoolLogger>('logger', options.logger),
    clock,
    random: orDefault(options.random, Math.random),
  });
}

/** `setSession`: an array of non-empty SQL statements (default none), copied and frozen. */
export function resolveSetSession(value: unknown): readonly string[] {
  const statements = orDefault(value, []);
  if (!Array.isArray(statements) || statements.some((s: unknown) => typeof s !== 'string' || s.trim() === ''))
    invalid('setSession', 'an array of SQL statements', statements);
  return Object.freeze([...(statements as string[])]);
}

// 0 turns a limit off; anything else is a timer.
function optionalTimer(name: string, value: unknown): number {
  return value === 0 ? 0 : expectTimerMs(name, value);
}
