import { AsyncLocalStorage } from 'node:async_hooks';
import { DbopError } from '../../core/errors.js';
import type { Session, SessionSource } from '../../core/session.js';
import { type OrmQueryResult, ormConnectionSession } from './orm-connection-session.js';

/** A better-sqlite3 Database, as far as dbop reads it. */
export interface BetterSqliteDatabase {
  prepare(source: string): {
    readonly reader: boolean;
    all(...params: unknown[]): unknown[];
    run(...params: unknown[]): { readonly changes: number };
  };
  pragma(source: string, options: { simple: true }): unknown;
  readonly inTransaction: boolean;
}

const queues = new WeakMap<object, Promise<void>>();
// The connections dbop holds now (with the view of the transaction holding each), and the view each
// better-sqlite3 statement dbop prepared went through: such a statement runs on a held connection only in
// its own transaction.
const holders = new WeakMap<object, object>();
const ours = new WeakMap<object, object>();
const guardedPrototypes = new WeakSet<object>();
// The connections whose transaction's callback the current async context runs in, and the connection of
// each session's raw (the runner may hand the callback a wrapper of the session it acquired).
const callbacksOf = new AsyncLocalStorage<readonly object[]>();
const connectionOf = new WeakMap<object, object>();

/**
 * Runs fn, a retryTransaction callback on session, marked as inside the transaction that holds session's
 * SQLite connection: a retryTransaction nested in it on the same connection is refused at once, as it would
 * wait for the outer one to end, which waits for it. Other sessions: fn as is.
 */
export function inSqliteCallback<T>(session: Session<unknown>, fn: () => T): T {
  const connection = connectionOf.get(session.raw as object);
  if (connection === undefined) return fn();
  return callbacksOf.run([...(callbacksOf.getStore() ?? []), connection], fn);
}

/**
 * Sessions over the one better-sqlite3 connection an ORM holds (Drizzle's `$client`, TypeORM's
 * `databaseConnection`): one transaction at a time, the next waiting for the previous one's release, as
 * statements of two transactions on one connection would mix. `log` shows dbop's statements in the ORM's log.
 * While a session holds the connection, statements prepared on it by anyone else (the ORM used outside
 * retryTransaction) are refused: they would run inside dbop's transaction, undone with it on a rollback
 * though their caller was told they succeeded. `raw` receives the view of the connection dbop's own
 * statements go through.
 */
export function betterSqliteSource<Raw>(
  database: BetterSqliteDatabase,
  log: (sql: string, params: readonly unknown[]) => void,
  raw: (view: BetterSqliteDatabase) => Raw,
): SessionSource<Raw> {
  const refuse = () => {
    throw outsideStatement();
  };
  return heldConnectionSource(
    async () => database,
    ['prepare', 'exec'],
    refuse,
    (held) => {
      // Statements dbop prepares are marked as this transaction's (pragma() prepares through this too).
      const view = Object.create(held, {
        prepare: {
          value(source: string) {
            const statement = held.prepare(source);
            mine(statement, held);
            return statement;
          },
        },
      }) as BetterSqliteDatabase;
      return ormConnectionSession({
        dialect: 'sqlite',
        raw: raw(view),
        async run(sql, params) {
          log(sql, params);
          return runOn(view, sql, params);
        },
        // Through the view: pragma() prepares natively, and a statement not dbop's is refused meanwhile.
        busyTimeoutMs: busyTimeoutOf({
          pragma: () =>
            (view.prepare('PRAGMA busy_timeout').all()[0] as { timeout?: unknown } | undefined)?.timeout,
        }),
        inTransaction: () => database.inTransaction,
      });
    },
  );
}

/**
 * Marks statement as prepared in the transaction of view; the first time, makes better-sqlite3's Statement
 * refuse to run on a connection dbop holds unless the transaction holding it prepared it (a statement
 * keeps its connection: `statement.database`), as one prepared before dbop took the connection (Drizzle's
 * `.prepare()`, TypeORM's statement cache) would run inside dbop's transaction and be undone with it.
 */
function mine(statement: object, view: object): void {
  ours.set(statement, view);
  const prototype = Object.getPrototypeOf(statement) as Record<string, unknown>;
  if (guardedPrototypes.has(prototype)) return;
  guardedPrototypes.add(prototype);
  for (const name of ['run', 'get', 'all', 'iterate']) {
    const original = prototype[name];
    if (typeof original !== 'function') continue;
    Object.defineProperty(prototype, name, {
      configurable: true,
      writable: true,
      value(this: { readonly database?: object }, ...args: unknown[]) {
        const holder = this.database === undefined ? undefined : holders.get(this.database);
        if (holder !== undefined && ours.get(this) !== holder) throw outsideStatement();
        return original.apply(this, args);
      },
    });
  }
}

/**
 * Sessions over one SQLite connection, one at a time (the next acquire waits for the previous release):
 * while a session holds it, the connection's `methods` are replaced by `refuse` for everyone else, and
 * open() makes the session over the view that reaches them.
 */
export function heldConnectionSource<Database extends object, Raw>(
  connect: () => Promise<Database>,
  methods: readonly string[],
  refuse: (args: unknown[]) => unknown,
  open: (view: Database, database: Database) => Session<Raw> | Promise<Session<Raw>>,
): SessionSource<Raw> {
  const unlocks = new WeakMap<Session<Raw>, () => void>();
  return {
    async acquire() {
      const database = await connect();
      // A mark outlives its transaction in work the callback left running: only a held connection counts.
      if (holders.has(database) && callbacksOf.getStore()?.includes(database) === true) {
        throw new DbopError(
          'DBOP_TRANSACTION_BOUNDARY',
          "a retryTransaction inside another one's callback on the same SQLite connection would wait for that one to end, which waits for it: run its statements on the outer transaction's handle (step() for a savepoint)",
        );
      }
      const unlock = await takeTurn(database);
      let letGo: (() => void) | undefined;
      try {
        const held = hold(database, methods, refuse);
        letGo = held.letGo;
        const session = await open(held.view, database);
        connectionOf.set(session.raw as object, database);
        unlocks.set(session, () => {
          held.letGo();
          unlock();
        });
        return session;
      } catch (error) {
        letGo?.();
        unlock();
        throw error;
      }
    },
    async release(session) {
      unlocks.get(session)?.();
    },
  };
}

/** Waits until no other session holds database (statements of two transactions on one connection would mix). */
async function takeTurn(database: object): Promise<() => void> {
  const previous = queues.get(database) ?? Promise.resolve();
  let unlock!: () => void;
  const mine = new Promise<void>((resolve) => {
    unlock = resolve;
  });
  queues.set(
    database,
    previous.then(() => mine),
  );
  await previous;
  return unlock;
}

/** What a statement on the connection by anyone but dbop meets while dbop's transaction holds it. */
export function outsideStatement(): DbopError {
  return new DbopError(
    'DBOP_TRANSACTION_BOUNDARY',
    "a statement on the SQLite connection outside the transaction dbop runs on it would run inside that transaction (and be undone with it): run it inside retryTransaction's callback, or after it",
  );
}

/**
 * Replaces database's methods by refuse until letGo() runs; view is what dbop's statements go through
 * (the connection's own methods, called on it).
 */
function hold<Database extends object>(
  database: Database,
  methods: readonly string[],
  refuse: (args: unknown[]) => unknown,
): { view: Database; letGo(): void } {
  const target = database as unknown as Record<string, unknown>;
  const own = methods.map((name) => Object.getOwnPropertyDescriptor(database, name));
  const view = Object.create(database) as Record<string, unknown>;
  for (const name of methods) {
    const original = target[name] as (...args: unknown[]) => unknown;
    view[name] = (...args: unknown[]) => original.apply(database, args);
    Object.defineProperty(database, name, {
      configurable: true,
      value: (...args: unknown[]) => refuse(args),
    });
  }
  holders.set(database, view);
  return {
    view: view as Database,
    letGo() {
      holders.delete(database);
      methods.forEach((name, i) => {
        const descriptor = own[i];
        if (descriptor === undefined) delete target[name];
        else Object.defineProperty(database, name, descriptor);
      });
    },
  };
}

/** The connection's own busy timeout (ms), restored after each of dbop's steps. */
export function busyTimeoutOf(database: {
  pragma?(source: string, options: { simple: true }): unknown;
}): number | undefined {
  const value = Number(database.pragma?.('busy_timeout', { simple: true }));
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

function runOn(database: BetterSqliteDatabase, sql: string, params: readonly unknown[]): OrmQueryResult {
  const statement = database.prepare(sql);
  if (statement.reader) {
    const rows = statement.all(...params) as Record<string, unknown>[];
    return { rows, rowCount: rows.length };
  }
  return { rows: [], rowCount: statement.run(...params).changes };
}
