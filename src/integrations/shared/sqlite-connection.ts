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
    (view) =>
      ormConnectionSession({
        dialect: 'sqlite',
        raw: raw(view),
        async run(sql, params) {
          log(sql, params);
          return runOn(view, sql, params);
        },
        busyTimeoutMs: busyTimeoutOf(database),
        inTransaction: () => database.inTransaction,
      }),
  );
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
      const unlock = await takeTurn(database);
      let letGo: (() => void) | undefined;
      try {
        const held = hold(database, methods, refuse);
        letGo = held.letGo;
        const session = await open(held.view, database);
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
  return {
    view: view as Database,
    letGo() {
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
