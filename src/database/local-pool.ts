/** How a {@link LocalPool} makes and ends its items. */
export interface LocalPoolFactory<T> {
  create(): Promise<T>;
  destroy(item: T): Promise<void>;
}

/** Counts a pool reports. */
export interface PoolCounts {
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
}

/**
 * A small bounded pool for drivers that have none (better-sqlite3, PGlite): at most `max` items, FIFO
 * waiters. A stopgap until dbop's own pool replaces it.
 */
export class LocalPool<T> {
  readonly #factory: LocalPoolFactory<T>;
  readonly #max: number;
  readonly #idle: T[] = [];
  readonly #waiters: Array<{ resolve: (item: T) => void; reject: (error: unknown) => void }> = [];
  #total = 0;
  #closed = false;

  constructor(factory: LocalPoolFactory<T>, max: number) {
    this.#factory = factory;
    this.#max = max;
  }

  /** An idle item, a new one while under `max`, or the next one released. */
  async acquire(): Promise<T> {
    if (this.#closed) throw new Error('The pool is closed');
    const idle = this.#idle.pop();
    if (idle !== undefined) return idle;
    if (this.#total < this.#max) {
      this.#total += 1;
      try {
        return await this.#factory.create();
      } catch (error) {
        this.#total -= 1;
        throw error;
      }
    }
    return new Promise<T>((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Gives an item back; `destroy` ends it instead (its state is unknown). */
  async release(item: T, destroy: boolean): Promise<void> {
    if (destroy || this.#closed) {
      this.#total -= 1;
      await this.#factory.destroy(item);
      this.#refill();
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter === undefined) this.#idle.push(item);
    else waiter.resolve(item);
  }

  /** Ends idle items now and the others when released; waiters are rejected. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error('The pool was closed'));
    const idle = this.#idle.splice(0);
    this.#total -= idle.length;
    await Promise.all(idle.map((item) => this.#factory.destroy(item)));
  }

  /** Current counts. */
  counts(): PoolCounts {
    return { total: this.#total, idle: this.#idle.length, waiting: this.#waiters.length };
  }

  // A destroyed item frees a slot: make a fresh one for the first waiter.
  #refill(): void {
    const waiter = this.#waiters.shift();
    if (waiter === undefined || this.#closed) {
      if (waiter !== undefined) waiter.reject(new Error('The pool was closed'));
      return;
    }
    this.#total += 1;
    this.#factory.create().then(waiter.resolve, (error: unknown) => {
      this.#total -= 1;
      waiter.reject(error);
    });
  }
}
