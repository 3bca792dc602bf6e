import { AsyncLocalStorage } from 'node:async_hooks';
import type { PoolFactory } from './pool-factory.js';
import { SteadyConnection, type SteadyConnectionOptions } from './steady-connection.js';

/**
 * DBUtils' PersistentDB for Node: one {@link SteadyConnection} per async context, the equivalent of
 * one per thread. The outermost run() opens it and closes it when it ends; run() calls nested inside
 * (however deep in awaits) reuse it. A nested run() that leaves a transaction of its own open has it rolled
 * back as it ends, so the next step never inherits it; a transaction the enclosing step holds is its to end.
 */
export class PersistentConnection<C> {
  readonly #factory: PoolFactory<C>;
  readonly #options: SteadyConnectionOptions | undefined;
  readonly #storage = new AsyncLocalStorage<SteadyConnection<C>>();
  readonly #open = new Set<SteadyConnection<C>>();
  #closed = false;

  constructor(factory: PoolFactory<C>, options?: SteadyConnectionOptions) {
    // Validates the options once, up front.
    new SteadyConnection(factory, options);
    this.#factory = factory;
    this.#options = options;
  }

  /** How many contexts hold a connection now. */
  get size(): number {
    return this.#open.size;
  }

  /** Runs `fn` with this context's steady connection. */
  async run<T>(fn: (connection: SteadyConnection<C>) => T | PromiseLike<T>): Promise<T> {
    if (this.#closed) throw new Error('persistentConnection is closed');
    const current = this.#live();
    if (current !== undefined) return this.#nested(current, fn);
    const steady = new SteadyConnection(this.#factory, this.#options);
    this.#open.add(steady);
    try {
      return await this.#storage.run(steady, () => fn(steady));
    } finally {
      this.#open.delete(steady);
      await steady.close();
    }
  }

  // A step inside an enclosing run(): the enclosing transaction, if any, is kept (a helper that takes the
  // connection through run() must not undo the caller's first half); a transaction the step began and left
  // open is rolled back when it ends, whether it returned or threw.
  async #nested<T>(
    current: SteadyConnection<C>,
    fn: (connection: SteadyConnection<C>) => T | PromiseLike<T>,
  ): Promise<T> {
    const enclosed = current.inTransaction;
    let result: T;
    try {
      result = await fn(current);
    } catch (error) {
      if (!enclosed && current.inTransaction) await current.rollback().catch(() => {});
      throw error;
    }
    if (!enclosed && current.inTransaction) await current.rollback();
    return result;
  }

  /** This context's steady connection; throws outside run(). */
  current(): SteadyConnection<C> {
    const current = this.#live();
    if (current === undefined) throw new Error('persistentConnection.current() is only valid inside run()');
    return current;
  }

  // This context's connection while its outermost run() lasts: a timer or listener scheduled inside run()
  // still sees the store once run() ended, and using that closed connection would reopen it for good.
  #live(): SteadyConnection<C> | undefined {
    const current = this.#storage.getStore();
    return current !== undefined && this.#open.has(current) ? current : undefined;
  }

  /** Refuses new contexts and closes every open connection. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#open].map((steady) => steady.close()));
  }
}

/**
 * One steady connection per async context (DBUtils' PersistentDB).
 * @example
 * const persistent = persistentConnection(pgFactory({ host: '127.0.0.1', database: 'shop' }));
 * await persistent.run((db) => db.query('SELECT 1'));
 */
export function persistentConnection<C>(
  factory: PoolFactory<C>,
  options?: SteadyConnectionOptions,
): PersistentConnection<C> {
  return new PersistentConnection(factory, options);
}
