import { AsyncLocalStorage } from 'node:async_hooks';
// Node's own, not the global a test's fake timers replace (vitest's default fakes setImmediate): the hand-off
// is no timer of the caller's, and must not wait for one the test never advances.
import { setImmediate as nextTurn } from 'node:timers';

/** A connection that may hold a {@link WriterGate}. */
export interface GateOwner {
  /** Its transaction, read or write (a fresh object each time), undefined between them. */
  turn(): object | undefined;
  /** True while it is beginning its write transaction (waiting for SQLite's lock) or has it open. */
  writing(): boolean;
  /**
   * True while its open transaction holds a lock that keeps another connection's write from committing:
   * a write transaction, or a read one in rollback-journal mode (a SHARED lock).
   */
  locksOut(): boolean;
}

/**
 * One writing transaction at a time per SQLite file within this thread, handed on in arrival order. SQLite
 * lets one writer in; a second connection of the same thread that asks meanwhile gets SQLITE_BUSY, and a
 * wait inside SQLite (busy_timeout) would block the event loop, and with it the very transaction that holds
 * the lock. Waiting here is asynchronous and ends in the event loop's next turn after that transaction does.
 */
export interface WriterGate {
  /**
   * True when `owner` holds the gate now; else a promise of true once it does, or of false when `timeoutMs`
   * passed first (the caller then tries its BEGIN anyway, and SQLite answers). A holder whose transaction is
   * no longer open (ended on the raw handle, never through the session) is passed over.
   */
  enter(owner: GateOwner, timeoutMs: number): true | Promise<boolean>;
  /**
   * Hands the gate to the next in line, if `owner` holds it. The next one's promise resolves in a later
   * turn of the event loop, after what the leaving owner's caller does next without waiting for I/O.
   */
  leave(owner: GateOwner): void;
  /** Ends `owner`'s wait in line, if it waits: its promise resolves false (cancel(), destroy()). */
  withdraw(owner: GateOwner): void;
  /**
   * True when the holder is writing and the current async context runs inside its transaction's body, not
   * yet ended (see {@link insideTransactionOf}): a writer that waited for it here would wait for its own
   * caller.
   */
  heldAround(): boolean;
}

interface Waiter {
  readonly owner: GateOwner;
  readonly resolve: (entered: boolean) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

class Gate implements WriterGate {
  #holder: GateOwner | undefined;
  readonly #waiters: Waiter[] = [];
  readonly #onIdle: () => void;

  constructor(onIdle: () => void) {
    this.#onIdle = onIdle;
  }

  enter(owner: GateOwner, timeoutMs: number): true | Promise<boolean> {
    const holder = this.#holder;
    if (holder === undefined || holder === owner || !holder.writing()) {
      this.#holder = owner;
      return true;
    }
    if (timeoutMs <= 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = { owner, resolve, timer: undefined };
      waiter.timer = setTimeout(() => {
        const at = this.#waiters.indexOf(waiter);
        if (at !== -1) this.#waiters.splice(at, 1);
        resolve(false);
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  leave(owner: GateOwner): void {
    if (this.#holder !== owner) return;
    const next = this.#waiters.shift();
    this.#holder = next?.owner;
    if (next === undefined) {
      this.#onIdle();
      return;
    }
    clearTimeout(next.timer);
    // Told once this turn's promise jobs have run: the code that goes on after the COMMIT (the rest of its
    // caller's work, up to a real wait) then runs before the next BEGIN, not between the next writer's
    // statements, where it would hold the file's write lock for every thread and process.
    nextTurn(next.resolve, true);
  }

  withdraw(owner: GateOwner): void {
    const at = this.#waiters.findIndex((waiter) => waiter.owner === owner);
    if (at === -1) return;
    const [waiter] = this.#waiters.splice(at, 1);
    clearTimeout(waiter!.timer);
    waiter!.resolve(false);
  }

  heldAround(): boolean {
    const turn = this.#holder?.turn();
    if (turn === undefined || !this.#holder!.writing()) return false;
    return enclosing.getStore()?.some((body) => body.turn === turn && body.running) === true;
  }
}

/** A transaction's body: the turn (transaction) of the connection it runs inside, until it has ended. */
interface Body {
  readonly file: string;
  readonly owner: GateOwner;
  readonly turn: object;
  running: boolean;
}

// The bodies the current async context runs inside, innermost last.
const enclosing = new AsyncLocalStorage<readonly Body[]>();
// The gate owner of each connection and its file (see writerGate), by its handle (the driver's Database).
const owners = new WeakMap<object, { readonly file: string; readonly owner: GateOwner }>();

/** Makes `owner`, of the file known as `file`, the one {@link insideTransactionOf} finds for `handle`. */
export function registerGateOwner(handle: object, file: string, owner: GateOwner): void {
  owners.set(handle, { file, owner });
}

/**
 * Runs fn as the body of the transaction open on the connection `handle`: a write that fn (or anything it
 * calls) starts on another connection of the same file while that transaction holds the gate and fn has not
 * ended then fails at once instead of waiting for a lock its own caller holds (so does a COMMIT that its read
 * lock holds back, see lockedAround). A connection with no transaction open: fn just runs.
 */
export async function insideTransactionOf<T>(handle: object, fn: () => T | PromiseLike<T>): Promise<T> {
  const registered = owners.get(handle);
  const turn = registered?.owner.turn();
  if (turn === undefined) return fn();
  const body: Body = { file: registered!.file, owner: registered!.owner, turn, running: true };
  const outer = enclosing.getStore();
  try {
    return await enclosing.run(outer === undefined ? [body] : [...outer, body], fn);
  } finally {
    // Its transaction awaits nothing more of it: a write it left behind (a timer) that starts while the
    // transaction still holds the lock (its COMMIT waiting for readers) waits in line.
    body.running = false;
  }
}

/**
 * True when the current async context runs inside the body, not yet ended, of a transaction still open on
 * another connection of `file` than `self` and holding a lock that keeps `self`'s write from committing (see
 * {@link GateOwner.locksOut}): waiting for that lock would wait for its own caller.
 */
export function lockedAround(file: string, self: GateOwner): boolean {
  const locking = ({ file: of, owner, turn, running }: Body): boolean =>
    running && of === file && owner !== self && owner.turn() === turn && owner.locksOut();
  return enclosing.getStore()?.some(locking) === true;
}

// Gates in use, by file: one per file in this thread, however many Databases or sessions open it.
const gates = new Map<string, Gate>();

/**
 * The gate of the SQLite file known as `file` (one key for all its names: sqliteSession gives its device and
 * inode), made on first use and forgotten once idle.
 */
export function writerGate(file: string): WriterGate {
  let gate = gates.get(file);
  if (gate === undefined) {
    const made: Gate = new Gate(() => {
      if (gates.get(file) === made) gates.delete(file);
    });
    gates.set(file, made);
    gate = made;
  }
  return gate;
}
