import { type Clock, systemClock } from '../core/clock.js';
import {
  expectIntegerAtLeast,
  expectOptionalFunction,
  expectOptionalOneOf,
  expectOptions,
  expectTimerMs,
  orDefault,
} from '../core/validate.js';
import { boundedCheck, untilAborted } from './bounded.js';
import type { PoolFactory } from './pool-factory.js';
import { connectionFailure, resolveSetSession } from './pool-options.js';

/** When a steady connection pings its connection (DBUtils' ping bit mask, spelled out). */
export const steadyPingModes = ['checkout', 'statement', 'both', 'never'] as const;
/** One of {@link steadyPingModes}. */
export type SteadyPingMode = (typeof steadyPingModes)[number];

/** Options of {@link steadyConnection}. */
export interface SteadyConnectionOptions {
  /** Reopens after this many statements (DBUtils' maxusage); 0 never. Default 0. */
  readonly maxUsage?: number;
  /** Statements run on every new connection, also after a reconnect (DBUtils' setsession). */
  readonly setSession?: readonly string[];
  /** Which errors mean the connection is gone (DBUtils' failures). Default: dbop's scope 'connection'. */
  readonly failures?: (error: unknown) => boolean;
  /** 'checkout': on connection(); 'statement': before each statement; 'both'; 'never'. Default 'checkout'. */
  readonly ping?: SteadyPingMode;
  /** How long opening a connection may take, ms; a ping gets as long. Default 10000. */
  readonly connectTimeoutMs?: number;
  readonly clock?: Clock;
}

const keys = new Set(['maxUsage', 'setSession', 'failures', 'ping', 'connectTimeoutMs', 'clock']);

/**
 * DBUtils' SteadyDB: one connection that reopens itself. A statement that fails because the connection
 * is gone is run again on a new connection when no transaction is open; inside a transaction the error
 * goes to the caller (only the owner can restart the transaction) and the next statement gets a new
 * connection. `maxUsage` recycles the connection; `setSession` runs on every new one.
 */
export class SteadyConnection<C> {
  readonly #factory: PoolFactory<C>;
  readonly #maxUsage: number;
  readonly #setSession: readonly string[];
  readonly #failures: (error: unknown) => boolean;
  readonly #ping: SteadyPingMode;
  readonly #connectTimeoutMs: number;
  readonly #clock: Clock;
  #connection: C | undefined;
  #opening: Promise<C> | undefined;
  #usage = 0;
  #opened = 0;
  #transaction = false;
  #broken = false;
  /** What the connection's error listener heard when it broke. */
  #brokenBy: unknown = undefined;

  constructor(factory: PoolFactory<C>, options?: SteadyConnectionOptions) {
    const o = expectOptions(options, keys, 'steadyConnection');
    if (typeof factory?.create !== 'function' || typeof factory.destroy !== 'function')
      throw new TypeError('Expected `factory` to have create(signal) and destroy(connection) methods');
    this.#factory = factory;
    this.#maxUsage = expectIntegerAtLeast('maxUsage', orDefault(o.maxUsage, 0), 0);
    this.#setSession = resolveSetSession(o.setSession);
    if (this.#setSession.length > 0 && typeof factory.execute !== 'function')
      throw new TypeError('`setSession` needs a factory with an execute(connection, sql) method');
    expectOptionalFunction('failures', o.failures);
    this.#failures = orDefault(o.failures, connectionFailure);
    this.#ping = orDefault(expectOptionalOneOf('ping', o.ping, steadyPingModes), 'checkout');
    this.#connectTimeoutMs = expectTimerMs('connectTimeoutMs', orDefault(o.connectTimeoutMs, 10_000));
    this.#clock = orDefault(o.clock, systemClock);
  }

  /** Statements run on the current connection (DBUtils' _usage). */
  get usage(): number {
    return this.#usage;
  }

  /** How many connections were opened so far (1 + reconnects). */
  get opened(): number {
    return this.#opened;
  }

  /** True between begin() and commit() or rollback(). */
  get inTransaction(): boolean {
    return this.#transaction;
  }

  /** The live connection, opened (or reopened) as needed, pinged first with ping 'checkout' or 'both'. */
  async connection(signal?: AbortSignal): Promise<C> {
    const connection = await this.#current(signal);
    if ((this.#ping === 'checkout' || this.#ping === 'both') && !this.#transaction)
      return this.#pinged(connection, signal);
    return connection;
  }

  /**
   * Runs one statement's work on the connection: recycled first at `maxUsage`, pinged with ping
   * 'statement' or 'both', and run again once on a new connection when it failed because the connection
   * is gone and no transaction is open.
   */
  async run<T>(work: (connection: C) => T | PromiseLike<T>, signal?: AbortSignal): Promise<T> {
    if (this.#maxUsage > 0 && this.#usage >= this.#maxUsage && !this.#transaction) await this.#discard();
    let connection = await this.#current(signal);
    if ((this.#ping === 'statement' || this.#ping === 'both') && !this.#transaction)
      connection = await this.#pinged(connection, signal);
    try {
      const result = await work(connection);
      this.#usage += 1;
      return result;
    } catch (error) {
      if (!this.#failures(error)) throw error;
      await this.#discard();
      if (this.#transaction) {
        // The transaction died with the connection; its owner decides whether to run it again.
        this.#transaction = false;
        throw error;
      }
      const fresh = await this.#current(signal);
      const result = await work(fresh);
      this.#usage += 1;
      return result;
    }
  }

  /** Runs one statement through the factory's execute. */
  query(sql: string, signal?: AbortSignal): Promise<unknown> {
    const execute = this.#factory.execute;
    if (execute === undefined) throw new TypeError('query() needs a factory with an execute method');
    return this.run((connection) => execute.call(this.#factory, connection, sql), signal);
  }

  /** BEGIN: until commit() or rollback(), a lost connection is reported, not silently replaced. */
  async begin(sql = 'BEGIN'): Promise<void> {
    await this.query(sql);
    this.#transaction = true;
  }

  /** COMMIT; a COMMIT that fails because the connection is gone reopens it and throws. */
  commit(): Promise<void> {
    return this.#end('COMMIT');
  }

  /** ROLLBACK; like commit(), a lost connection is reopened and the error thrown. */
  rollback(): Promise<void> {
    return this.#end('ROLLBACK');
  }

  /** Ends the connection; the next use opens a new one. */
  async close(): Promise<void> {
    this.#transaction = false;
    await this.#discard();
  }

  async #end(sql: string): Promise<void> {
    const execute = this.#factory.execute;
    if (execute === undefined) throw new TypeError(`${sql} needs a factory with an execute method`);
    const connection = await this.#current();
    this.#transaction = false;
    try {
      await execute.call(this.#factory, connection, sql);
    } catch (error) {
      if (this.#failures(error)) await this.#discard();
      throw error;
    }
  }

  async #pinged(connection: C, signal?: AbortSignal): Promise<C> {
    const ping = this.#factory.ping;
    if (ping === undefined) return connection;
    try {
      // Bounded like the pool's ping: on a half-open socket the driver's ping never answers.
      const check = (bound: AbortSignal) =>
        ping.call(this.#factory, connection, signal === undefined ? bound : AbortSignal.any([bound, signal]));
      await boundedCheck(check, this.#connectTimeoutMs, this.#clock, 'ping timed out');
      return connection;
    } catch {
      // Not awaited: ending a connection whose socket does not answer may not answer either.
      this.#discard();
      return this.#current(signal);
    }
  }

  #current(signal?: AbortSignal): Promise<C> {
    if (this.#connection !== undefined && !this.#broken) return Promise.resolve(this.#connection);
    if (this.#broken && this.#transaction) {
      // The server or the socket ended the connection inside a transaction (its error listener heard it):
      // the transaction is gone, reported to its owner, never carried on silently on a new connection.
      this.#transaction = false;
      const error = this.#brokenBy ?? new Error('the connection was lost inside a transaction');
      this.#discard();
      return Promise.reject(error);
    }
    this.#opening ??= this.#open(signal).finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  async #open(signal?: AbortSignal): Promise<C> {
    if (this.#broken) await this.#discard();
    const controller = new AbortController();
    const timer = this.#clock.setTimeout(
      () => controller.abort(new Error(`opening a connection took longer than ${this.#connectTimeoutMs} ms`)),
      this.#connectTimeoutMs,
    );
    const stop = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', stop, { once: true });
    try {
      // Bounded even for a factory that ignores its signal; a connection that opens afterwards is ended.
      const opening = (async () => this.#factory.create(controller.signal))();
      const connection = await untilAborted(opening, controller.signal, (late) => {
        (async () => this.#factory.destroy(late))().catch(() => {});
      });
      try {
        for (const sql of this.#setSession) await this.#factory.execute!(connection, sql);
        // A factory whose onError() throws leaves the connection unwatched: ended, and the caller told why.
        this.#factory.onError?.(connection, (error) => {
          if (this.#connection !== connection || this.#broken) return;
          this.#broken = true;
          this.#brokenBy = error;
        });
      } catch (error) {
        await this.#factory.destroy(connection);
        throw error;
      }
      this.#connection = connection;
      this.#broken = false;
      this.#brokenBy = undefined;
      this.#usage = 0;
      this.#opened += 1;
      return connection;
    } finally {
      this.#clock.clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
    }
  }

  // Forgets the connection and ends it; callers that must not wait on a dead socket do not await.
  #discard(): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    this.#broken = false;
    this.#brokenBy = undefined;
    if (connection === undefined) return Promise.resolve();
    // Bounded like a ping: a driver's quit behind a hung statement on a half-open socket never finishes.
    const destroy = (signal: AbortSignal) => this.#factory.destroy(connection, signal);
    return boundedCheck(destroy, this.#connectTimeoutMs, this.#clock, 'closing a connection timed out').then(
      () => {},
      () => {},
    );
  }
}

/**
 * A connection that reopens itself (DBUtils' SteadyDB).
 * @example
 * const db = steadyConnection(pgFactory({ host: '127.0.0.1', database: 'shop' }), { maxUsage: 1000 });
 * await db.query('SELECT 1');
 */
export function steadyConnection<C>(
  factory: PoolFactory<C>,
  options?: SteadyConnectionOptions,
): SteadyConnection<C> {
  return new SteadyConnection(factory, options);
}
