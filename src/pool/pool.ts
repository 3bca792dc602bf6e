import { setMaxListeners } from 'node:events';
import { onAbort } from '../core/abort-listener.js';
import { expectOptionalBoolean, expectOptionalSignal, expectOptionalString } from '../core/validate.js';
import { boundedCheck, untilAborted } from './bounded.js';
import { type DestroyReason, poolChannels } from './pool-channels.js';
import { type CapturedStack, captureStack, PoolEntry } from './pool-entry.js';
import {
  ConnectionEndedOnOpenError,
  ConnectionNotAcquiredError,
  PoolClosedError,
  type PoolHolder,
  PoolTimeoutError,
} from './pool-errors.js';
import type { ConnectionStatus, PoolFactory } from './pool-factory.js';
import { type PoolOptions, type ResolvedPoolOptions, resolvePoolOptions } from './pool-options.js';
import { type QueueNode, WaitQueue } from './wait-queue.js';
import { type WaitTimePercentiles, WaitTimes } from './wait-times.js';

/** Options of one acquire(). */
export interface AcquireOptions {
  /** Gives up waiting; the acquire rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /**
   * A read-only autocommit caller that may share a connection with others (DBUtils' shareable); only
   * with `maxShared` > 0. A connection in a transaction is never shared.
   */
  readonly shared?: boolean;
  /** A label for this holder, shown in timeout errors and leak reports. */
  readonly holder?: string;
}

/** A pool's counts and history. */
export interface PoolStats {
  readonly name: string;
  readonly max: number;
  /** Open connections plus those being opened. */
  readonly size: number;
  readonly idle: number;
  readonly inUse: number;
  /** Callers waiting for a connection. */
  readonly pending: number;
  /** Connections being opened (counted in `size`). */
  readonly opening: number;
  /** Connections being pinged or reset, neither idle nor in use (counted in `size`). */
  readonly checking: number;
  readonly created: number;
  readonly destroyed: number;
  readonly acquired: number;
  readonly timeouts: number;
  readonly leaks: number;
  readonly connectFailures: number;
  /** Wait times of the acquires that had to wait, ms. */
  readonly waitMs: WaitTimePercentiles;
}

interface Waiter<C> extends QueueNode {
  resolve: (connection: C) => void;
  reject: (error: unknown) => void;
  readonly enqueuedAt: number;
  readonly shared: boolean;
  readonly holder: string | undefined;
  readonly stack: CapturedStack | undefined;
  // Stops waiting for the caller's signal (one listener per signal, however many waiters share it).
  stopWatching: (() => void) | undefined;
  timer: unknown;
}

const acquireKeys = new Set(['signal', 'shared', 'holder']);

// Open pools, held weakly: metrics read their counts when collected (a pool nobody closes can still be freed).
const open = new Set<WeakRef<Pool<unknown>>>();

/** The stats of every pool not yet closed (or freed), read now: what gauges observe at collection time. */
export function openPoolStats(): PoolStats[] {
  const stats: PoolStats[] = [];
  for (const ref of open) {
    const pool = ref.deref();
    if (pool === undefined || pool.closed) open.delete(ref);
    else stats.push(pool.stats());
  }
  return stats;
}

const firstRetryMs = 50;
const lastRetryMs = 2000;

/**
 * A connection pool over any {@link PoolFactory}: idle connections reused newest first (LIFO), waiters
 * served oldest first (FIFO) with a bounded wait, connections checked on the way out and on the way
 * back, retired by age, use count and idleness, and leaks reported with the acquirer's stack.
 */
export class Pool<C> {
  readonly #factory: PoolFactory<C>;
  readonly #options: ResolvedPoolOptions;
  readonly #entries = new Map<C, PoolEntry<C>>();
  readonly #idle: PoolEntry<C>[] = [];
  readonly #shared: PoolEntry<C>[] = [];
  readonly #waiters = new WaitQueue<Waiter<C>>();
  readonly #waits = new WaitTimes();
  readonly #closer = closeController();
  readonly #destroying = new Set<Promise<unknown>>();
  // Waiters out of the line while the idle connection they will get is pinged (counted in #checking).
  readonly #pinged = new Set<Waiter<C>>();
  #creating = 0;
  #checking = 0;
  #busy = 0;
  #created = 0;
  #destroyed = 0;
  #acquired = 0;
  #timeouts = 0;
  #leaks = 0;
  #connectFailures = 0;
  #lastConnectError: unknown = undefined;
  #retryMs = 0;
  #retryTimer: unknown = undefined;
  #houseTimer: unknown = undefined;
  #closing: Promise<void> | undefined = undefined;
  #drained: (() => void) | undefined = undefined;
  readonly #ref = new WeakRef(this as Pool<unknown>);

  constructor(factory: PoolFactory<C>, options?: PoolOptions) {
    if (typeof factory !== 'object' || factory === null || typeof factory.create !== 'function')
      throw new TypeError('Expected `factory` to have a create(signal) method');
    if (typeof factory.destroy !== 'function')
      throw new TypeError('Expected `factory` to have a destroy method');
    this.#factory = factory;
    this.#options = resolvePoolOptions(options);
    if (this.#options.setSession.length > 0 && typeof factory.execute !== 'function')
      throw new TypeError('`setSession` needs a factory with an execute(connection, sql) method');
    this.#housekeeping();
    this.#fill();
    open.add(this.#ref);
  }

  /** The resolved options. */
  get options(): ResolvedPoolOptions {
    return this.#options;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * A connection: an idle one (newest first), a new one while under `max`, or the next one released,
   * waiting at most `acquireTimeoutMs` (then a {@link PoolTimeoutError} naming the holders).
   */
  acquire(options?: AcquireOptions): Promise<C> {
    return this.#acquire(options, this.acquire);
  }

  /**
   * Like acquire(), as a {@link PoolLease}: this checkout's own release() and destroy(), refused once
   * called (release(connection) cannot tell this checkout from a later one of the same connection).
   */
  acquireLease(options?: AcquireOptions): Promise<PoolLease<C>> {
    return this.#acquire(options, this.acquireLease).then(
      (connection) => new PoolLease(this, connection, this.#entries.get(connection)!),
    );
  }

  #acquire(options: AcquireOptions | undefined, above: (...args: never[]) => unknown): Promise<C> {
    if (options !== undefined) checkAcquireOptions(options);
    if (this.#closing !== undefined) return Promise.reject(new PoolClosedError(this.#options.name));
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const shared = options?.shared === true && this.#options.maxShared > 0;
    const stack = this.#options.leakDetectionMs > 0 ? captureStack(above) : undefined;
    if (this.#waiters.length === 0) {
      if (shared) {
        const entry = this.#shareable();
        if (entry !== undefined) {
          this.#share(entry, 0);
          return Promise.resolve(entry.connection);
        }
      }
      const entry = this.#takeIdle();
      if (entry !== undefined && !this.#needsPing(entry)) {
        this.#lend(entry, shared, options?.holder, stack, 0);
        return Promise.resolve(entry.connection);
      }
      if (entry !== undefined) return this.#wait(shared, options, stack, entry);
    }
    return this.#wait(shared, options, stack, undefined);
  }

  /**
   * Gives a connection back. With `error` (what the caller's work failed with), a connection `failures`
   * counts as broken is destroyed; so is one the server reports still inside a transaction.
   */
  release(connection: C, error?: unknown): void {
    const entry = this.#lentEntry(connection);
    if (entry === undefined) return;
    if (entry.shares > 1) {
      entry.shares -= 1;
      // A sharer's work found it broken: nobody joins it again, and its last holder's release ends it.
      if (error !== undefined && this.#options.failures(error)) this.#unshare(entry, error);
      return;
    }
    if (this.#shared.length > 0) {
      const at = this.#shared.indexOf(entry);
      if (at >= 0) this.#shared.splice(at, 1);
    }
    entry.shares = 0;
    entry.uses += 1;
    this.#busy -= 1;
    // No longer lent: handed to a waiter below, it is lent afresh (counted, with the new holder's stack).
    entry.state = 'checking';
    const now = this.#options.clock.now();
    entry.lastUsedAt = now;
    if (poolChannels.release.hasSubscribers) {
      // Counted as checking while subscribers look: stats() read there still adds up.
      this.#checking += 1;
      poolChannels.release.publish({ ...this.#counts(), heldMs: now - entry.acquiredAt });
      this.#checking -= 1;
    }
    this.#checkin(entry, error, now);
  }

  // The entry of a connection this pool lent; undefined for one close() already ended (nothing left to do).
  #lentEntry(connection: C): PoolEntry<C> | undefined {
    const entry = this.#entries.get(connection);
    if (entry !== undefined && entry.state === 'busy') return entry;
    if (this.#closing !== undefined && entry === undefined) return undefined;
    throw new ConnectionNotAcquiredError(this.#options.name);
  }

  /** Ends a borrowed connection instead of giving it back (its state is unknown). */
  destroy(connection: C, error?: unknown): void {
    const entry = this.#lentEntry(connection);
    if (entry === undefined) return;
    if (entry.shares > 1) {
      // Other sharers still hold it: they release it as usual, and the last release ends it.
      entry.shares -= 1;
      this.#unshare(entry, error ?? new Error(`${this.#options.name}: destroyed by one of its holders`));
      return;
    }
    const at = this.#shared.indexOf(entry);
    if (at >= 0) this.#shared.splice(at, 1);
    this.#busy -= 1;
    this.#end(entry, 'released-destroyed', error);
  }

  // A shared connection one holder found broken or destroyed: no new sharer joins it.
  #unshare(entry: PoolEntry<C>, broken: unknown): void {
    entry.broken ??= broken;
    const at = this.#shared.indexOf(entry);
    if (at >= 0) this.#shared.splice(at, 1);
  }

  /** Runs `fn` with a connection and gives it back, destroyed when fn's error means it is broken. */
  async use<T>(fn: (connection: C) => T | PromiseLike<T>, options?: AcquireOptions): Promise<T> {
    const connection = await this.acquire(options);
    let result: T;
    try {
      result = await fn(connection);
    } catch (error) {
      this.release(connection, error);
      throw error;
    }
    this.release(connection);
    return result;
  }

  /** Current counts and history. */
  stats(): PoolStats {
    return {
      ...this.#counts(),
      name: this.#options.name,
      max: this.#options.max,
      opening: this.#creating,
      checking: this.#checking,
      created: this.#created,
      destroyed: this.#destroyed,
      acquired: this.#acquired,
      timeouts: this.#timeouts,
      leaks: this.#leaks,
      connectFailures: this.#connectFailures,
      waitMs: this.#waits.percentiles(),
    };
  }

  /**
   * Stops lending: waiters get {@link PoolClosedError}, idle connections end now, borrowed ones when given
   * back or after `closeTimeoutMs` (then ended anyway). Resolves when every connection is ended.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const { clock, closeTimeoutMs, name } = this.#options;
    open.delete(this.#ref);
    clock.clearTimeout(this.#houseTimer);
    clock.clearTimeout(this.#retryTimer);
    this.#closer.abort(new PoolClosedError(name));
    for (let waiter = this.#waiters.shift(); waiter !== undefined; waiter = this.#waiters.shift())
      this.#settle(waiter, new PoolClosedError(name));
    for (const waiter of this.#pinged) this.#settle(waiter, new PoolClosedError(name));
    for (const entry of this.#idle.splice(0)) this.#end(entry, 'closed');
    if (this.#busy + this.#checking + this.#creating > 0) {
      let timer: unknown;
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        timer = clock.setTimeout(resolve, closeTimeoutMs);
      });
      clock.clearTimeout(timer);
      this.#drained = undefined;
      for (const entry of [...this.#entries.values()]) {
        if (entry.state === 'busy') this.#busy -= 1;
        this.#end(entry, 'closed');
      }
    }
    while (this.#destroying.size > 0) await Promise.all([...this.#destroying]);
  }

  #counts(): { pool: string; size: number; idle: number; inUse: number; pending: number } {
    return {
      pool: this.#options.name,
      size: this.#entries.size + this.#creating,
      idle: this.#idle.length,
      inUse: this.#busy,
      pending: this.#waiters.length,
    };
  }

  // An idle connection that is still usable, newest first; the stale ones met on the way are ended.
  #takeIdle(): PoolEntry<C> | undefined {
    for (let entry = this.#idle.pop(); entry !== undefined; entry = this.#idle.pop()) {
      if (entry.broken !== undefined) this.#end(entry, 'broken', entry.broken);
      else if (entry.expiresAt <= this.#options.clock.now()) this.#end(entry, 'max-lifetime');
      else return entry;
    }
    return undefined;
  }

  #needsPing(entry: PoolEntry<C>): boolean {
    const { ping, validateIdleMs, clock } = this.#options;
    if (ping === 'never' || this.#factory.ping === undefined) return false;
    return ping === 'acquire' || clock.now() - entry.lastUsedAt > validateIdleMs;
  }

  // A shared connection to add one more caller to, or undefined when a new one should join the shared set
  // (or none can be shared: each is in a transaction, broken, or of a driver that cannot tell, like mysql2).
  #shareable(): PoolEntry<C> | undefined {
    if (this.#shared.length < this.#options.maxShared && (this.#idle.length > 0 || this.#hasRoom()))
      return undefined;
    let best: PoolEntry<C> | undefined;
    for (const entry of this.#shared) {
      if (entry.broken !== undefined) continue;
      // Only the server's own word that no transaction is open lets another caller in.
      if (this.#status(entry.connection) !== 'idle') continue;
      if (best === undefined || entry.shares < best.shares) best = entry;
    }
    return best;
  }

  // The factory's word on a connection; a status() that throws cannot vouch for it: 'broken'.
  #status(connection: C): ConnectionStatus {
    try {
      return this.#factory.status?.(connection) ?? 'unknown';
    } catch {
      return 'broken';
    }
  }

  // Connections being opened or reset: each will serve a caller in the line (a pinged one serves its own).
  #coming(): number {
    return this.#creating + this.#checking - this.#pinged.size;
  }

  #hasRoom(): boolean {
    return this.#entries.size + this.#creating < this.#options.max;
  }

  #share(entry: PoolEntry<C>, waitMs: number): void {
    entry.shares += 1;
    this.#acquired += 1;
    if (poolChannels.acquire.hasSubscribers)
      poolChannels.acquire.publish({ ...this.#counts(), waitMs, shared: true });
  }

  #lend(
    entry: PoolEntry<C>,
    shared: boolean,
    holder: string | undefined,
    stack: CapturedStack | undefined,
    waitMs: number,
  ): void {
    entry.state = 'busy';
    entry.shares = 1;
    entry.lends += 1;
    entry.acquiredAt = this.#options.clock.now();
    entry.holder = holder;
    entry.stack = stack;
    entry.leakReported = false;
    this.#busy += 1;
    this.#acquired += 1;
    if (shared && this.#shared.length < this.#options.maxShared) this.#shared.push(entry);
    if (poolChannels.acquire.hasSubscribers)
      poolChannels.acquire.publish({ ...this.#counts(), waitMs, shared });
  }

  #wait(
    shared: boolean,
    options: AcquireOptions | undefined,
    stack: CapturedStack | undefined,
    toCheck: PoolEntry<C> | undefined,
  ): Promise<C> {
    const { clock, acquireTimeoutMs } = this.#options;
    return new Promise<C>((resolve, reject) => {
      const waiter: Waiter<C> = {
        prev: undefined,
        next: undefined,
        queued: false,
        resolve,
        reject,
        enqueuedAt: clock.now(),
        shared,
        holder: options?.holder,
        stack,
        stopWatching: undefined,
        timer: undefined,
      };
      // acquireTimeoutMs 0 fails at once when the pool is full, and waits no longer than a connect otherwise.
      const timeoutMs =
        acquireTimeoutMs > 0 || !this.#hasRoom() ? acquireTimeoutMs : this.#options.connectTimeoutMs;
      waiter.timer = clock.setTimeout(() => this.#timeOut(waiter), timeoutMs);
      const signal = options?.signal;
      if (signal !== undefined)
        waiter.stopWatching = onAbort(signal, (reason) => this.#settle(waiter, reason));
      if (toCheck !== undefined) this.#check(toCheck, waiter);
      else {
        this.#waiters.push(waiter);
        this.#dispatch();
      }
    });
  }

  #timeOut(waiter: Waiter<C>): void {
    if (waiter.resolve === undefined) return;
    this.#timeouts += 1;
    const now = this.#options.clock.now();
    const holders: PoolHolder[] = [...this.#entries.values()]
      .filter((entry) => entry.state === 'busy')
      .sort((a, b) => a.acquiredAt - b.acquiredAt)
      .slice(0, 5)
      .map((entry) => ({
        heldMs: now - entry.acquiredAt,
        ...(entry.holder === undefined ? {} : { holder: entry.holder }),
        ...(entry.stack?.stack === undefined ? {} : { stack: entry.stack.stack }),
      }));
    const { name, acquireTimeoutMs, max } = this.#options;
    const error = new PoolTimeoutError({
      pool: name,
      timeoutMs: acquireTimeoutMs,
      max,
      holders,
      lastConnectError: this.#lastConnectError,
      pending: this.#waiters.length - (waiter.queued ? 1 : 0),
    });
    this.#settle(waiter, error);
    if (poolChannels.timeout.hasSubscribers)
      poolChannels.timeout.publish({ ...this.#counts(), timeoutMs: acquireTimeoutMs, error });
  }

  // Ends a waiter's wait: with a connection, or rejected with `error`.
  #settle(waiter: Waiter<C>, error: unknown, entry?: PoolEntry<C>): void {
    this.#waiters.remove(waiter);
    this.#options.clock.clearTimeout(waiter.timer);
    waiter.stopWatching?.();
    const { resolve, reject } = waiter;
    // A settled waiter keeps no callbacks: a late timer or abort finds nothing to do.
    waiter.resolve = undefined as never;
    waiter.reject = undefined as never;
    if (resolve === undefined) return;
    if (entry === undefined) {
      reject(error);
      return;
    }
    const waitMs = this.#options.clock.now() - waiter.enqueuedAt;
    this.#waits.record(waitMs);
    if (entry.state === 'busy') this.#share(entry, waitMs);
    else this.#lend(entry, waiter.shared, waiter.holder, waiter.stack, waitMs);
    resolve(entry.connection);
  }

  // Serves waiters in order with what is free, then opens connections for those still waiting.
  #dispatch(): void {
    for (let waiter = this.#waiters.peek(); waiter !== undefined; waiter = this.#waiters.peek()) {
      if (waiter.shared) {
        const entry = this.#shareable();
        if (entry !== undefined) {
          this.#settle(waiter, undefined, entry);
          continue;
        }
      }
      const entry = this.#takeIdle();
      if (entry === undefined) break;
      this.#waiters.remove(waiter);
      if (this.#needsPing(entry)) this.#check(entry, waiter);
      else this.#settle(waiter, undefined, entry);
    }
    this.#grow();
  }

  #grow(): void {
    if (this.#closing !== undefined || this.#retryTimer !== undefined) return;
    while (this.#hasRoom() && this.#coming() < this.#waiters.length) this.#create();
  }

  // Keeps minIdle connections open.
  #fill(): void {
    if (this.#closing !== undefined || this.#retryTimer !== undefined) return;
    while (this.#hasRoom() && this.#entries.size + this.#creating < this.#options.minIdle) this.#create();
  }

  // Pings an idle connection before a waiter gets it; a dead one is ended and the waiter goes first in line.
  #check(entry: PoolEntry<C>, waiter: Waiter<C>): void {
    entry.state = 'checking';
    this.#checking += 1;
    this.#pinged.add(waiter);
    const { clock, connectTimeoutMs } = this.#options;
    const ping = (signal: AbortSignal) => this.#factory.ping!(entry.connection, signal);
    boundedCheck(ping, connectTimeoutMs, clock, 'ping timed out').then(
      () => {
        this.#checking -= 1;
        this.#pinged.delete(waiter);
        entry.lastUsedAt = clock.now();
        if (waiter.resolve === undefined || this.#closing !== undefined) this.#putBack(entry);
        else this.#settle(waiter, undefined, entry);
      },
      (error: unknown) => {
        this.#checking -= 1;
        this.#pinged.delete(waiter);
        this.#end(entry, 'ping-failed', error);
        if (waiter.resolve !== undefined && this.#closing === undefined) this.#waiters.unshift(waiter);
        this.#dispatch();
      },
    );
  }

  // A released connection: ended when it cannot serve again, reset when its state is unknown, then reused.
  #checkin(entry: PoolEntry<C>, error: unknown, now: number): void {
    const status = this.#status(entry.connection);
    const retire = this.#retireReason(entry, status, error, now);
    if (retire !== undefined) {
      this.#end(entry, retire, retire === 'failure' ? error : retire === 'broken' ? entry.broken : undefined);
      return;
    }
    const { reset } = this.#options;
    const resetter = this.#factory.reset;
    if (resetter !== undefined && (reset === 'always' || (reset === 'unknown' && status === 'unknown'))) {
      entry.state = 'checking';
      this.#checking += 1;
      // A reset is one round trip, bounded like a ping: one that never answers ends the connection.
      const { clock, connectTimeoutMs } = this.#options;
      const reset = () => resetter.call(this.#factory, entry.connection);
      boundedCheck(reset, connectTimeoutMs, clock, 'reset timed out').then(
        () => {
          this.#checking -= 1;
          this.#putBack(entry);
        },
        (resetError: unknown) => {
          this.#checking -= 1;
          this.#end(entry, 'reset-failed', resetError);
        },
      );
      return;
    }
    this.#putBack(entry);
  }

  #retireReason(
    entry: PoolEntry<C>,
    status: ConnectionStatus,
    error: unknown,
    now: number,
  ): DestroyReason | undefined {
    const { failures, maxUsage } = this.#options;
    if (this.#closing !== undefined) return 'closed';
    if (error !== undefined && failures(error)) return 'failure';
    if (entry.broken !== undefined || status === 'broken') return 'broken';
    if (status === 'transaction') return 'in-transaction';
    if (maxUsage > 0 && entry.uses >= maxUsage) return 'max-usage';
    if (entry.expiresAt <= now) return 'max-lifetime';
    return undefined;
  }

  // A usable connection goes to the first waiter, or on top of the idle stack.
  #putBack(entry: PoolEntry<C>): void {
    if (this.#closing !== undefined) {
      this.#end(entry, 'closed');
      return;
    }
    const waiter = this.#waiters.peek();
    if (waiter !== undefined && (!waiter.shared || this.#shareable() === undefined)) {
      this.#settle(waiter, undefined, entry);
      return;
    }
    if (this.#idle.length >= this.#options.maxIdle) {
      this.#end(entry, 'max-idle');
      return;
    }
    entry.state = 'idle';
    entry.holder = undefined;
    entry.stack = undefined;
    this.#idle.push(entry);
    if (waiter !== undefined) this.#dispatch();
  }

  #create(): void {
    this.#creating += 1;
    const { clock, connectTimeoutMs } = this.#options;
    const started = clock.now();
    const controller = new AbortController();
    const onClose = (): void => controller.abort(this.#closer.signal.reason);
    this.#closer.signal.addEventListener('abort', onClose, { once: true });
    const timer = clock.setTimeout(
      () => controller.abort(new Error(`opening a connection took longer than ${connectTimeoutMs} ms`)),
      connectTimeoutMs,
    );
    const done = (): void => {
      clock.clearTimeout(timer);
      this.#closer.signal.removeEventListener('abort', onClose);
    };
    const opening = (async () => {
      const connection = await this.#factory.create(controller.signal);
      try {
        for (const sql of this.#options.setSession) await this.#factory.execute!(connection, sql);
        // A kill racing the handshake: pg handles a FATAL arriving with ReadyForQuery before the pool's
        // listener is attached, so the driver's own word is asked before anyone is lent the connection.
        if (this.#status(connection) === 'broken') throw new ConnectionEndedOnOpenError(this.#options.name);
      } catch (error) {
        this.#destroyQuietly(connection);
        throw error;
      }
      return connection;
    })();
    // The connect timeout holds even for a factory that ignores its signal: the slot is freed when the
    // signal aborts, and a connection that opens afterwards is ended, never lent.
    untilAborted(opening, controller.signal, (late) => this.#destroyQuietly(late)).then(
      (connection) => {
        done();
        // Never two entries for one connection (a factory handing out one client twice), nor none at all.
        if (connection === undefined || connection === null || this.#entries.has(connection))
          this.#failed(
            new TypeError(
              `${this.#options.name}: factory.create() resolved to ${connection === undefined || connection === null ? String(connection) : 'a connection the pool already holds'}`,
            ),
            started,
          );
        else this.#opened(connection, started);
      },
      (error: unknown) => {
        done();
        this.#failed(error, started);
      },
    );
  }

  #opened(connection: C, started: number): void {
    // The listener goes on first: a factory whose onError() throws has not opened a usable connection (it
    // would stay unwatched), so it counts as a failed connect and its error goes to the first caller in line.
    let entry: PoolEntry<C> | undefined;
    try {
      this.#factory.onError?.(connection, (error) => {
        if (entry !== undefined) this.#onConnectionError(entry, error);
      });
    } catch (error) {
      this.#destroyQuietly(connection);
      this.#failed(error, started);
      return;
    }
    const { clock, maxLifetimeMs, maxLifetimeJitterMs, random } = this.#options;
    const now = clock.now();
    this.#creating -= 1;
    this.#created += 1;
    this.#retryMs = 0;
    this.#lastConnectError = undefined;
    const expiresAt = maxLifetimeMs === 0 ? Infinity : now + maxLifetimeMs - random() * maxLifetimeJitterMs;
    entry = new PoolEntry(connection, now, expiresAt);
    this.#entries.set(connection, entry);
    // Counted as checking until it is put back: stats() read by a subscriber still adds up.
    this.#checking += 1;
    if (poolChannels.create.hasSubscribers)
      poolChannels.create.publish({ ...this.#counts(), ok: true, durationMs: now - started });
    this.#checking -= 1;
    this.#putBack(entry);
    this.#drain();
  }

  #failed(error: unknown, started: number): void {
    const { clock, name, logger } = this.#options;
    this.#creating -= 1;
    this.#connectFailures += 1;
    if (this.#closing !== undefined) {
      this.#drain();
      return;
    }
    this.#lastConnectError = error;
    if (poolChannels.create.hasSubscribers)
      poolChannels.create.publish({ ...this.#counts(), ok: false, durationMs: clock.now() - started, error });
    logger?.warn?.({ pool: name, error }, `${name}: opening a connection failed`);
    // The caller first in line gets the connect error itself (pgxpool's way): it is classified
    // connect-failed and retried by dbop's runner, rather than hidden behind a timeout much later.
    const first = this.#waiters.peek();
    if (first !== undefined && this.#coming() < this.#waiters.length) this.#settle(first, error);
    // Retry with backoff while callers wait or minIdle is short; their acquire timeout bounds the wait.
    this.#retryMs = Math.min(lastRetryMs, this.#retryMs === 0 ? firstRetryMs : this.#retryMs * 2);
    const handle = clock.setTimeout(() => {
      this.#retryTimer = undefined;
      this.#dispatch();
      this.#fill();
    }, this.#retryMs);
    (handle as { unref?: () => void } | null)?.unref?.();
    this.#retryTimer = handle;
  }

  #onConnectionError(entry: PoolEntry<C>, error: unknown): void {
    if (entry.broken !== undefined) return;
    entry.broken = error;
    if (entry.state === 'idle') {
      this.#idle.splice(this.#idle.indexOf(entry), 1);
      this.#end(entry, 'broken', error);
      this.#fill();
    }
  }

  // Ends a connection the pool no longer lends; the slot it frees may serve a waiter.
  #end(entry: PoolEntry<C>, reason: DestroyReason, error?: unknown): void {
    if (entry.state === 'gone') return;
    entry.state = 'gone';
    this.#entries.delete(entry.connection);
    this.#destroyed += 1;
    if (poolChannels.destroy.hasSubscribers)
      poolChannels.destroy.publish({ ...this.#counts(), reason, ...(error === undefined ? {} : { error }) });
    this.#destroyQuietly(entry.connection);
    if (this.#closing === undefined) this.#grow();
    else this.#drain();
  }

  #destroyQuietly(connection: C): void {
    const { logger, name, clock, connectTimeoutMs } = this.#options;
    // Bounded: close() waits for every ending, and a driver's quit behind a hung statement never finishes.
    const destroy = (signal: AbortSignal) => this.#factory.destroy(connection, signal);
    const ending = boundedCheck(destroy, connectTimeoutMs, clock, 'closing a connection timed out')
      .catch((error: unknown) =>
        logger?.warn?.({ pool: name, error }, `${name}: closing a connection failed`),
      )
      .finally(() => this.#destroying.delete(ending));
    this.#destroying.add(ending);
  }

  #drain(): void {
    if (this.#drained !== undefined && this.#busy + this.#checking + this.#creating === 0) this.#drained();
  }

  // Retires idle connections past idleTimeoutMs or their lifetime, reports leaks, keeps minIdle open.
  #housekeeping(): void {
    const { clock, idleTimeoutMs, leakDetectionMs, maxLifetimeMs } = this.#options;
    const periods = [idleTimeoutMs, leakDetectionMs, maxLifetimeMs].filter((ms) => ms > 0);
    if (periods.length === 0) return;
    const every = Math.max(10, Math.min(1000, ...periods.map((ms) => ms / 2)));
    const tick = (): void => {
      if (this.#closing !== undefined) return;
      this.#sweep();
      this.#houseTimer = clock.setTimeout(tick, every);
      (this.#houseTimer as { unref?: () => void } | null)?.unref?.();
    };
    this.#houseTimer = clock.setTimeout(tick, every);
    (this.#houseTimer as { unref?: () => void } | null)?.unref?.();
  }

  #sweep(): void {
    const { clock, idleTimeoutMs, leakDetectionMs, minIdle, logger, name } = this.#options;
    const now = clock.now();
    // Oldest idle first (the bottom of the stack): those are the ones LIFO leaves unused.
    for (let i = 0; i < this.#idle.length; ) {
      const entry = this.#idle[i]!;
      const expired = entry.expiresAt <= now;
      const idleTooLong =
        idleTimeoutMs > 0 && now - entry.lastUsedAt >= idleTimeoutMs && this.#entries.size > minIdle;
      if (expired || idleTooLong) {
        this.#idle.splice(i, 1);
        this.#end(entry, expired ? 'max-lifetime' : 'idle-timeout');
      } else i += 1;
    }
    if (leakDetectionMs > 0) {
      for (const entry of this.#entries.values()) {
        if (entry.state !== 'busy' || entry.leakReported || now - entry.acquiredAt < leakDetectionMs)
          continue;
        entry.leakReported = true;
        this.#leaks += 1;
        const heldMs = now - entry.acquiredAt;
        const stack = entry.stack?.stack ?? '(no stack)';
        logger?.warn?.(
          { pool: name, heldMs, holder: entry.holder, stack },
          `${name}: a connection is held for ${Math.round(heldMs)} ms (leakDetectionMs ${leakDetectionMs}); acquired at ${stack}`,
        );
        if (poolChannels.leak.hasSubscribers)
          poolChannels.leak.publish({
            ...this.#counts(),
            heldMs,
            stack,
            ...(entry.holder === undefined ? {} : { holder: entry.holder }),
          });
      }
    }
    this.#fill();
  }
}

/**
 * One checkout of a pooled connection ({@link Pool.acquireLease}): given back with release() or ended with
 * destroy(), once. A second call, or one after the connection went back by another way and was lent again,
 * throws {@link ConnectionNotAcquiredError} instead of giving back another caller's checkout.
 */
export class PoolLease<C> {
  readonly connection: C;
  readonly #pool: Pool<C>;
  readonly #entry: PoolEntry<C>;
  readonly #lend: number;
  #released = false;

  /** @internal made by {@link Pool.acquireLease} */
  constructor(pool: Pool<C>, connection: C, entry: PoolEntry<C>) {
    this.#pool = pool;
    this.connection = connection;
    this.#entry = entry;
    this.#lend = entry.lends;
  }

  /** True once release() or destroy() was called. */
  get released(): boolean {
    return this.#released;
  }

  /** Gives the connection back, as {@link Pool.release}. */
  release(error?: unknown): void {
    this.#end();
    this.#pool.release(this.connection, error);
  }

  /** Ends the connection instead of giving it back, as {@link Pool.destroy}. */
  destroy(error?: unknown): void {
    this.#end();
    this.#pool.destroy(this.connection, error);
  }

  #end(): void {
    const entry = this.#entry;
    if (this.#released || entry.lends !== this.#lend || entry.state !== 'busy')
      throw new ConnectionNotAcquiredError(this.#pool.options.name, true);
    this.#released = true;
  }
}

function checkAcquireOptions(options: AcquireOptions): void {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('Expected the options of acquire() to be an object');
  for (const key of Object.keys(options))
    if (!acquireKeys.has(key))
      throw new TypeError(`Unknown option \`${key}\` of acquire(); known options: signal, shared, holder`);
  expectOptionalSignal('signal', options.signal);
  expectOptionalBoolean('shared', options.shared);
  expectOptionalString('holder', options.holder);
}

/**
 * A pool of connections made by `factory`.
 * @example
 * const pool = createPool(pgFactory({ host: '127.0.0.1', user: 'app', database: 'shop' }), { max: 10 });
 * const rows = await pool.use((client) => client.query('SELECT 1'));
 */
export function createPool<C>(factory: PoolFactory<C>, options?: PoolOptions): Pool<C> {
  return new Pool(factory, options);
}

/**
 * The pool's close() signal: every connect in flight listens to it (removed once it settles), up to `max` at
 * once, so Node's default of ten listeners would warn of a leak that is not one.
 */
function closeController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
