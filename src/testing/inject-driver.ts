import type { Backend } from '../core/classification.js';
import { driverError, sqliteCode } from './driver-errors.js';
import { type FaultInjector, guardFaults, type InjectedFault } from './fault-injector.js';
import { driverMeets, type FaultDriver } from './faults.js';

/** Options of {@link injectDriverFaults} and {@link injectPoolFaults}. */
export interface DriverFaultOptions {
  readonly driver: FaultDriver;
  /** mysql2 only: which server's numbers and texts to use; read from the handshake when not given. */
  readonly dialect?: 'mysql' | 'mariadb';
}

// The methods through which each driver sends statements (the ones dbop's sessions call).
const statementMethods: Readonly<Record<FaultDriver, readonly string[]>> = {
  pg: ['query'],
  mysql2: ['query', 'execute'],
  mariadb: ['query', 'execute', 'batch'],
  pglite: ['query', 'exec'],
  'better-sqlite3': ['exec', 'prepare'],
};

type AnyFunction = (...args: unknown[]) => unknown;
type Raw = Record<string, unknown>;

/**
 * The driver's own connection (pg Client or PoolClient, mysql2/promise or mariadb connection, PGlite,
 * better-sqlite3 Database), failing chosen statements as the server would: the error is the driver's own,
 * thrown where the driver throws it, so a dbop session above it reacts as it does in production (it
 * verifies a lost COMMIT, marks a transaction MySQL ended, discards a dead connection). Connection
 * faults really close the connection; a COMMIT lost "committed" really commits first; a MySQL deadlock
 * really rolls the transaction back, as InnoDB does.
 * @example const client = injectDriverFaults(new pg.Client(url), faults, { driver: 'pg' });
 */
export function injectDriverFaults<T extends object>(
  raw: T,
  injector: FaultInjector,
  options: DriverFaultOptions,
): T {
  const { driver } = options;
  checkDriver(driver, injector);
  const methods = new Set(statementMethods[driver]);
  return new Proxy(raw, {
    get(target, property) {
      // The receiver is the real connection: drivers keep #private state the proxy does not have.
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (typeof property !== 'string' || !methods.has(property)) return (value as AnyFunction).bind(target);
      if (driver === 'better-sqlite3')
        return sqliteMethod(target as Raw, property, value as AnyFunction, injector);
      return (...args: unknown[]): Promise<unknown> => {
        const sql = statementText(args[0]);
        const injected = sql === undefined ? undefined : injector.onStatement(sql);
        const run = (): Promise<unknown> => Promise.resolve((value as AnyFunction).apply(target, args));
        if (injected === undefined) return run();
        // A COMMIT that lands is sent in the caller's own tick, as the driver would: pg queues it where the
        // session listens for its rows (the transaction id that settles a lost COMMIT arrives before it).
        const landed = injected.fault === 'commit-lost' && injected.committed === true ? run() : undefined;
        return strike(target as Raw, injected, landed, { ...options, driver });
      };
    },
  });
}

/**
 * A pool (pg Pool, mysql2/promise or mariadb pool) whose connections come wrapped by
 * {@link injectDriverFaults}, and whose connects fail with connect faults (too many connections).
 */
export function injectPoolFaults<T extends object>(
  pool: T,
  injector: FaultInjector,
  options: DriverFaultOptions,
): T {
  checkDriver(options.driver, injector);
  // A pooled connection comes back out of the pool many times: one wrapper each, so that what the code
  // under test keys on the connection (dbop's sessions keep one error listener per connection) stays one.
  const wrapped = new WeakMap<object, object>();
  return new Proxy(pool, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (property !== 'connect' && property !== 'getConnection') return (value as AnyFunction).bind(target);
      return async (...args: unknown[]): Promise<unknown> => {
        const connection = await connectThrough(injector, options, () =>
          Promise.resolve((value as AnyFunction).apply(target, args)),
        );
        let faulty = wrapped.get(connection as object);
        if (faulty === undefined) {
          faulty = injectDriverFaults(connection as object, injector, options);
          wrapped.set(connection as object, faulty);
        }
        return faulty;
      };
    },
  });
}

/**
 * A connection factory (any function resolving to a driver connection) whose connects fail with connect
 * faults and whose connections come wrapped by {@link injectDriverFaults}.
 */
export function injectConnectFaults<A extends unknown[], C extends object>(
  connect: (...args: A) => Promise<C>,
  injector: FaultInjector,
  options: DriverFaultOptions,
): (...args: A) => Promise<C> {
  checkDriver(options.driver, injector);
  return async (...args) => {
    const connection = await connectThrough(injector, options, () => connect(...args));
    return injectDriverFaults(connection, injector, options);
  };
}

async function connectThrough<C>(
  injector: FaultInjector,
  options: DriverFaultOptions,
  connect: () => Promise<C>,
): Promise<C> {
  const injected = injector.onConnect();
  if (injected !== undefined) throw await driverError(options.driver, injected.fault, {});
  return connect();
}

function checkDriver(driver: FaultDriver, injector: FaultInjector): void {
  if (!(Object.keys(statementMethods) as unknown[]).includes(driver)) {
    throw new TypeError(
      `Expected \`driver\` to be one of ${Object.keys(statementMethods).join(', ')}, got ${String(driver)}`,
    );
  }
  guardFaults(injector, (fault) => {
    if (!driverMeets(driver, fault)) throw new TypeError(`The ${driver} driver never fails with "${fault}"`);
  });
}

function statementText(first: unknown): string | undefined {
  if (typeof first === 'string') return first;
  if (typeof first === 'object' && first !== null && typeof (first as { sql?: unknown }).sql === 'string') {
    return (first as { sql: string }).sql;
  }
  if (typeof first === 'object' && first !== null && typeof (first as { text?: unknown }).text === 'string') {
    return (first as { text: string }).text;
  }
  return undefined;
}

async function strike(
  raw: Raw,
  injected: InjectedFault,
  landed: Promise<unknown> | undefined,
  options: DriverFaultOptions,
): Promise<unknown> {
  const { driver } = options;
  const error = await driverError(driver, injected.fault, {
    sql: injected.statement,
    dialect: dialectOf(raw, options),
    threadId: typeof raw.threadId === 'number' ? raw.threadId : undefined,
  });
  switch (injected.fault) {
    case 'commit-lost':
      // Committed: the COMMIT landed, only its answer was lost. Not committed: the connection died first.
      if (landed !== undefined) await landed;
      await closeConnection(raw, driver);
      throw error;
    case 'connection-lost':
    case 'server-shutdown':
      await closeConnection(raw, driver);
      throw error;
    case 'deadlock':
      // InnoDB rolls the whole transaction back; Postgres aborts it (as for every error below).
      if (driver === 'mysql2' || driver === 'mariadb') await (raw.query as AnyFunction).call(raw, 'ROLLBACK');
      else await abortTransaction(raw, driver);
      throw error;
    default:
      await abortTransaction(raw, driver);
      throw error;
  }
}

function dialectOf(raw: Raw, options: DriverFaultOptions): Backend | undefined {
  if (options.dialect !== undefined) return options.dialect;
  if (options.driver === 'mariadb') return 'mariadb';
  if (options.driver !== 'mysql2') return undefined;
  const inner = (raw.connection ?? raw) as { _handshakePacket?: { serverVersion?: string } };
  const version = inner._handshakePacket?.serverVersion;
  return version === undefined || /mariadb/i.test(version) ? 'mariadb' : 'mysql';
}

/**
 * An error inside a Postgres transaction aborts it: later statements fail with 25P02 and COMMIT answers
 * ROLLBACK. A failing statement makes the server do exactly that, so the code under test meets it too.
 */
async function abortTransaction(raw: Raw, driver: FaultDriver): Promise<void> {
  const inTransaction =
    driver === 'pg'
      ? (raw.getTransactionStatus as (() => string) | undefined)?.call(raw) === 'T'
      : driver === 'pglite'
        ? (raw.isInTransaction as (() => boolean) | undefined)?.call(raw) === true
        : false;
  if (!inTransaction) return;
  await Promise.resolve((raw.query as AnyFunction).call(raw, 'SELECT 1/0')).catch(() => undefined);
}

/** Closes the connection the way a lost network does: the socket goes, no goodbye to the server. */
async function closeConnection(raw: Raw, driver: FaultDriver): Promise<void> {
  if (driver === 'pg') {
    const stream = (
      raw.connection as
        | { stream?: { destroy(): void; destroyed?: boolean; once(e: string, f: () => void): void } }
        | undefined
    )?.stream;
    if (stream === undefined || stream.destroyed === true) return;
    await new Promise<void>((resolve) => {
      stream.once('close', () => setImmediate(resolve));
      stream.destroy();
    });
    return;
  }
  (raw.destroy as (() => void) | undefined)?.call(raw);
  // Let the driver's close handlers run before the error reaches the caller.
  await new Promise((resolve) => setImmediate(resolve));
}

function sqliteMethod(db: Raw, property: string, value: AnyFunction, injector: FaultInjector): AnyFunction {
  if (property === 'exec') {
    return (...args: unknown[]) => {
      sqliteCheck(db, injector, String(args[0]));
      return value.apply(db, args);
    };
  }
  // prepare(): the statement fails when it runs, as SQLite's do.
  return (...args: unknown[]) => {
    const statement = value.apply(db, args) as Raw;
    const sql = String(args[0]);
    return new Proxy(statement, {
      get(target, key) {
        const member: unknown = Reflect.get(target, key, target);
        if (typeof member !== 'function') return member;
        if (key !== 'run' && key !== 'all' && key !== 'get' && key !== 'iterate')
          return (member as AnyFunction).bind(target);
        return (...params: unknown[]) => {
          sqliteCheck(db, injector, sql);
          return (member as AnyFunction).apply(target, params);
        };
      },
    });
  };
}

/**
 * better-sqlite3 throws synchronously: the error class comes from the database's own constructor
 * (better-sqlite3 hangs SqliteError on it), so no import is needed.
 */
function sqliteCheck(db: Raw, injector: FaultInjector, sql: string): void {
  const injected = injector.onStatement(sql);
  if (injected === undefined) return;
  const code = sqliteCode(injected.fault);
  const SqliteError = (db.constructor as { SqliteError?: new (message: string, code: string) => Error })
    .SqliteError;
  if (code === undefined || SqliteError === undefined) {
    throw new TypeError(`The better-sqlite3 driver never fails with "${injected.fault}"`);
  }
  throw new SqliteError(code[1], code[0]);
}
