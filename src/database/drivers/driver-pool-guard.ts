import type { Session } from '../../core/session.js';
import { poolChannels } from '../../pool/pool-channels.js';
import { captureStack } from '../../pool/pool-entry.js';
import { type PoolHolder, PoolTimeoutError } from '../../pool/pool-errors.js';
import type { ConnectorSettings, DriverConnector } from './driver-connector.js';

/** Which of the pool options the driver's own pool already serves; the guard serves the others. */
export interface NativePoolOptions {
  readonly acquireTimeoutMs: boolean;
}

interface Held {
  readonly acquiredAt: number;
  readonly stack: { stack?: string };
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * The pool options a driver's own pool lacks (mysql2, mariadb), served around its acquire and release:
 * `acquireTimeoutMs` (a typed PoolTimeoutError naming the holders; a connection that arrives late goes
 * straight back), `leakDetectionMs` (reported on 'dbop:pool:leak' with the acquirer's stack) and
 * `maxLifetimeMs` (a connection older than that, minus up to 2.5% jitter, is closed when given back).
 */
export function guardDriverPool(
  connector: DriverConnector,
  settings: ConnectorSettings,
  native: NativePoolOptions,
): DriverConnector {
  const { acquireTimeoutMs, leakDetectionMs = 0, maxLifetimeMs = 0 } = settings.pool;
  const timeoutMs = native.acquireTimeoutMs ? undefined : acquireTimeoutMs;
  if (timeoutMs === undefined && leakDetectionMs === 0 && maxLifetimeMs === 0) return connector;
  const held = new Map<Session, Held>();
  // First seen: these drivers keep one session per connection, so this is about when it was opened.
  const retireAt = new WeakMap<Session, number>();
  let pending = 0;
  const counts = () => {
    const { total, idle, waiting } = connector.counts();
    return { pool: settings.name, size: total, idle, inUse: total - idle, pending: waiting };
  };
  const lend = (session: Session, stack: { stack?: string }): Session => {
    const now = Date.now();
    if (maxLifetimeMs > 0 && !retireAt.has(session))
      retireAt.set(session, now + maxLifetimeMs - Math.random() * maxLifetimeMs * 0.025);
    const entry: Held = { acquiredAt: now, stack, timer: undefined };
    if (leakDetectionMs > 0) {
      entry.timer = setTimeout(() => {
        if (poolChannels.leak.hasSubscribers)
          poolChannels.leak.publish({
            ...counts(),
            heldMs: Date.now() - entry.acquiredAt,
            stack: stack.stack ?? '(no stack)',
          });
      }, leakDetectionMs);
      entry.timer.unref?.();
    }
    held.set(session, entry);
    return session;
  };
  const holders = (): PoolHolder[] => {
    const now = Date.now();
    return [...held.values()]
      .sort((a, b) => a.acquiredAt - b.acquiredAt)
      .slice(0, 5)
      .map((h) => ({
        heldMs: now - h.acquiredAt,
        ...(h.stack.stack === undefined ? {} : { stack: h.stack.stack }),
      }));
  };
  async function acquire(): Promise<Session> {
    const stack = leakDetectionMs > 0 ? captureStack(acquire) : {};
    if (timeoutMs === undefined) return lend(await connector.acquire(), stack);
    const acquiring = connector.acquire();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    pending += 1;
    try {
      const session = await Promise.race([
        acquiring,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            timedOut = true;
            reject(
              new PoolTimeoutError({
                pool: settings.name,
                timeoutMs,
                max: settings.max,
                holders: holders(),
                lastConnectError: undefined,
                pending: pending - 1,
              }),
            );
          }, timeoutMs);
        }),
      ]);
      return lend(session, stack);
    } catch (error) {
      // The driver still hands the connection over later: straight back to its pool.
      if (timedOut)
        acquiring.then(
          (late) => connector.release(late),
          () => undefined,
        );
      throw error;
    } finally {
      pending -= 1;
      clearTimeout(timer);
    }
  }
  return {
    ...connector,
    acquire,
    release(session: Session): Promise<void> {
      const entry = held.get(session);
      if (entry !== undefined) {
        clearTimeout(entry.timer);
        held.delete(session);
      }
      const retire = retireAt.get(session);
      if (retire !== undefined && Date.now() >= retire) {
        retireAt.delete(session);
        session.destroy();
      }
      return connector.release(session);
    },
  };
}
