import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createPool, type PoolStats } from '../../../src/pool/pool.js';
import type { ConnectionStatus, PoolFactory } from '../../../src/pool/pool-factory.js';
import { fakeClock } from './fake-factory.js';

interface Conn {
  readonly id: number;
  alive: boolean;
  inTransaction: boolean;
  listeners: ((error: unknown) => void)[];
}

/** A factory whose next connects, pings and resets the test steers: ok, fail, or hang (ignoring the signal). */
class SteeredFactory implements PoolFactory<Conn> {
  made = 0;
  readonly destroyedIds: number[] = [];
  nextCreate: 'ok' | 'fail' | 'hang' | 'throw' = 'ok';
  nextPing: 'ok' | 'fail' | 'hang' = 'ok';
  nextReset: 'ok' | 'fail' | 'hang' = 'ok';

  create(): Promise<Conn> {
    const mode = this.nextCreate;
    this.nextCreate = 'ok';
    if (mode === 'throw') throw new Error('factory threw');
    if (mode === 'fail') return Promise.reject(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }));
    if (mode === 'hang') return new Promise(() => {});
    this.made += 1;
    return Promise.resolve({ id: this.made, alive: true, inTransaction: false, listeners: [] });
  }

  destroy(conn: Conn): void {
    this.destroyedIds.push(conn.id);
    conn.alive = false;
  }

  ping(conn: Conn): Promise<void> {
    return this.#steer('nextPing', conn);
  }

  reset(conn: Conn): Promise<void> {
    conn.inTransaction = false;
    return this.#steer('nextReset', conn);
  }

  status(conn: Conn): ConnectionStatus {
    if (!conn.alive) return 'broken';
    if (conn.id % 3 === 0) return 'unknown';
    return conn.inTransaction ? 'transaction' : 'idle';
  }

  onError(conn: Conn, listener: (error: unknown) => void): void {
    conn.listeners.push(listener);
  }

  #steer(which: 'nextPing' | 'nextReset', conn: Conn): Promise<void> {
    const mode = this[which];
    this[which] = 'ok';
    if (mode === 'hang') return new Promise(() => {});
    if (mode === 'fail' || !conn.alive)
      return Promise.reject(Object.assign(new Error('gone'), { code: 'ECONNRESET' }));
    return Promise.resolve();
  }
}

type Op =
  | { readonly kind: 'acquire'; readonly abortAfterMs: number | undefined; readonly shared: boolean }
  | { readonly kind: 'release' | 'destroy' | 'releaseBroken' | 'beginAndRelease'; readonly pick: number }
  | { readonly kind: 'kill'; readonly pick: number }
  | { readonly kind: 'steer'; readonly what: 'nextCreate' | 'nextPing' | 'nextReset'; readonly mode: string }
  | { readonly kind: 'wait'; readonly ms: number };

// Weighted towards acquire and release, so releases often meet waiters; waits mostly shorter than the
// acquire timeout, so waiters live long enough to be served.
const ops: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('acquire' as const),
      abortAfterMs: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined, freq: 4 }),
      shared: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constantFrom(
        'release' as const,
        'destroy' as const,
        'releaseBroken' as const,
        'beginAndRelease' as const,
      ),
      pick: fc.nat(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('kill' as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.record({
        kind: fc.constant('steer' as const),
        what: fc.constant('nextCreate' as const),
        mode: fc.constantFrom('fail', 'hang', 'throw'),
      }),
      fc.record({
        kind: fc.constant('steer' as const),
        what: fc.constantFrom('nextPing' as const, 'nextReset' as const),
        mode: fc.constantFrom('fail', 'hang'),
      }),
    ),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('wait' as const),
      ms: fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: 0, max: 150 }) },
        fc.integer({ min: 0, max: 2000 }),
      ),
    }),
  },
);

const optionsArb = fc.record({
  max: fc.integer({ min: 1, max: 4 }),
  minIdle: fc.integer({ min: 0, max: 2 }),
  maxShared: fc.integer({ min: 0, max: 2 }),
  maxUsage: fc.integer({ min: 0, max: 3 }),
  maxLifetimeMs: fc.constantFrom(0, 500, 5000),
  idleTimeoutMs: fc.constantFrom(0, 300),
  ping: fc.constantFrom('idle' as const, 'acquire' as const, 'never' as const),
  reset: fc.constantFrom('unknown' as const, 'always' as const, 'never' as const),
});

function checkInvariants(stats: PoolStats, max: number): void {
  for (const key of [
    'size',
    'idle',
    'inUse',
    'pending',
    'opening',
    'checking',
    'created',
    'destroyed',
  ] as const)
    expect(stats[key], key).toBeGreaterThanOrEqual(0);
  expect(stats.size, 'size = idle + inUse + opening + checking').toBe(
    stats.idle + stats.inUse + stats.opening + stats.checking,
  );
  expect(stats.created - stats.destroyed, 'created - destroyed = open connections').toBe(
    stats.size - stats.opening,
  );
  expect(stats.size, 'size <= max').toBeLessThanOrEqual(max);
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('createPool: stats stay consistent under random operations (property, fixed seed)', () => {
  it('keeps size = idle + inUse + opening + checking, created - destroyed = open, and ends everything on close', async () => {
    await fc.assert(
      fc.asyncProperty(
        optionsArb,
        fc.array(ops, { minLength: 5, maxLength: 80, size: 'max' }),
        async (options, steps) => {
          const factory = new SteeredFactory();
          const minIdle = Math.min(options.minIdle, options.max);
          const made = createPool(factory, {
            clock: fakeClock,
            ...options,
            minIdle,
            maxShared: Math.min(options.maxShared, options.max),
            acquireTimeoutMs: 1000,
            connectTimeoutMs: 200,
            validateIdleMs: 100,
            closeTimeoutMs: 500,
          });
          const held: Conn[] = [];
          const unshared = new Set<Conn>();
          const settled: Promise<unknown>[] = [];
          for (const step of steps) {
            switch (step.kind) {
              case 'acquire': {
                const controller = new AbortController();
                if (step.abortAfterMs !== undefined)
                  setTimeout(() => controller.abort(new Error('caller gave up')), step.abortAfterMs);
                settled.push(
                  made.acquire({ signal: controller.signal, shared: step.shared }).then(
                    (conn) => {
                      // No connection is ever lent to two callers unless both asked to share.
                      if (!step.shared) {
                        expect(held.includes(conn), `connection ${conn.id} lent twice`).toBe(false);
                        unshared.add(conn);
                      } else
                        expect(unshared.has(conn), `shared caller got an exclusive connection`).toBe(false);
                      held.push(conn);
                    },
                    () => {},
                  ),
                );
                break;
              }
              case 'release':
              case 'destroy':
              case 'releaseBroken':
              case 'beginAndRelease': {
                if (held.length === 0) break;
                const [conn] = held.splice(step.pick % held.length, 1);
                if (!held.includes(conn!)) unshared.delete(conn!);
                if (step.kind === 'destroy' && held.includes(conn!)) {
                  held.push(conn!);
                  break; // destroying a connection others still share is not a valid caller move
                }
                if (step.kind === 'destroy') made.destroy(conn!);
                else if (step.kind === 'releaseBroken')
                  made.release(conn!, Object.assign(new Error('lost'), { code: 'ECONNRESET' }));
                else {
                  if (step.kind === 'beginAndRelease' && !held.includes(conn!)) conn!.inTransaction = true;
                  made.release(conn!);
                }
                break;
              }
              case 'kill': {
                const conn = held[step.pick % Math.max(1, held.length)];
                if (conn === undefined) break;
                conn.alive = false;
                for (const listener of conn.listeners)
                  listener(Object.assign(new Error('killed'), { code: '57P01' }));
                break;
              }
              case 'steer':
                (factory as unknown as Record<string, string>)[step.what] = step.mode;
                break;
              case 'wait':
                await vi.advanceTimersByTimeAsync(step.ms);
                break;
            }
            await vi.advanceTimersByTimeAsync(0);
            checkInvariants(made.stats(), options.max);
            expect(made.stats().inUse, 'inUse counts the distinct borrowed connections').toBe(
              new Set(held).size,
            );
          }
          const closing = made.close();
          await vi.advanceTimersByTimeAsync(600);
          await closing;
          for (const conn of held.splice(0)) made.release(conn);
          await vi.runAllTimersAsync();
          await Promise.all(settled);
          const stats = made.stats();
          expect(stats).toMatchObject({ size: 0, idle: 0, inUse: 0, pending: 0, opening: 0, checking: 0 });
          expect(stats.created, 'every opened connection was counted ended').toBe(stats.destroyed);
          // Every connection the factory opened was ended exactly once.
          expect([...factory.destroyedIds].sort((a, b) => a - b)).toEqual(
            Array.from({ length: factory.made }, (_, i) => i + 1),
          );
          expect(vi.getTimerCount(), 'no timer left behind after close').toBe(0);
        },
      ),
      { seed: 20261130, numRuns: 150, endOnFailure: true },
    );
  });
});
