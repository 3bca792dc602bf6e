import { markCommitInFlight } from '../core/commit-marker.js';
import type { Session } from '../core/session.js';
import type { Database } from '../database/database.js';
import type { DatabaseConnection } from '../database/database-connection.js';
import { driverError } from './driver-errors.js';
import { type FaultInjector, guardFaults, type InjectedFault } from './fault-injector.js';
import { driverMeets, type FaultDriver } from './faults.js';

const drivers: Readonly<Record<string, FaultDriver>> = {
  postgres: 'pg',
  postgresql: 'pg',
  mysql: 'mysql2',
  mariadb: 'mariadb',
  sqlite: 'better-sqlite3',
  pglite: 'pglite',
};

/**
 * The same Database, with chosen statements of run(), transaction() and acquire() bodies failing with the
 * driver's own errors (the driver is read from the URL's scheme): `conn.execute()` for statement and
 * connection faults, and the unit's COMMIT for "commit-lost". What a real server would do with the
 * connection is done too (a lost connection is closed; a COMMIT lost "committed" really commits). A lost
 * COMMIT reaches the engine as from a session that cannot verify it: AmbiguousCommitError unless
 * `idempotent`. query() runs uninjected; "too-many-connections" needs the pool, so wrap the driver's pool
 * or a SessionSource for it (injectPoolFaults, injectSourceFaults).
 * @example const db = injectDatabaseFaults(await createDatabase(url), new FaultInjector({ rules: [{ fault: 'deadlock', nth: 2 }] }));
 */
export function injectDatabaseFaults(db: Database, injector: FaultInjector): Database {
  const scheme = /^([a-z]+):/i.exec(db.url)?.[1]?.toLowerCase() ?? '';
  const driver = drivers[scheme];
  if (driver === undefined) throw new TypeError(`No fault injection for a "${scheme}:" database`);
  guardFaults(injector, (fault) => {
    if (fault === 'too-many-connections') {
      throw new TypeError(
        '"too-many-connections" happens when the pool connects: wrap the driver pool or a SessionSource (injectPoolFaults, injectSourceFaults)',
      );
    }
    if (!driverMeets(driver, fault)) throw new TypeError(`The ${driver} driver never fails with "${fault}"`);
  });
  const wrap = (conn: DatabaseConnection): DatabaseConnection => faultyConnection(conn, injector, driver, db);
  return new Proxy(db, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      if (property === 'run' || property === 'transaction') {
        return (fn: (conn: DatabaseConnection, attempt: unknown) => unknown, options?: unknown) =>
          method.call(
            target,
            (conn: DatabaseConnection, attempt: unknown) => fn(wrap(conn), attempt),
            options,
          );
      }
      if (property === 'acquire') {
        return (fn: (conn: DatabaseConnection) => unknown, options?: unknown) =>
          method.call(target, (conn: DatabaseConnection) => fn(wrap(conn)), options);
      }
      return method.bind(target);
    },
  });
}

function faultyConnection(
  conn: DatabaseConnection,
  injector: FaultInjector,
  driver: FaultDriver,
  db: Database,
): DatabaseConnection {
  watchCommit(conn.session, injector, driver, db);
  return new Proxy(conn, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (property !== 'execute') return value.bind(target);
      return async (sql: string, params?: unknown): Promise<unknown> => {
        const injected = injector.onStatement(String(sql));
        if (injected === undefined) return value.call(target, sql, params);
        const error = await errorFor(injected, driver, db);
        if (injected.fault === 'connection-lost' || injected.fault === 'server-shutdown') {
          target.session.destroy(error);
        }
        throw error;
      };
    },
  });
}

const watcher: unique symbol = Symbol('dbop.testing.commitWatcher');
type Watched = Session & { [watcher]?: FaultInjector };

/**
 * The unit's COMMIT is sent by the engine, not by the body: a one-shot own `commit` (and `rollback`, which
 * removes both) on the session the body got, gone again when the attempt ends either way. A Database
 * wrapped by two injectors gets one watch each, the outer over the inner, so both see the COMMIT.
 */
function watchCommit(session: Session, injector: FaultInjector, driver: FaultDriver, db: Database): void {
  if ((session as Watched)[watcher] === injector) return;
  const before = {
    commit: Object.getOwnPropertyDescriptor(session, 'commit'),
    rollback: Object.getOwnPropertyDescriptor(session, 'rollback'),
    watcher: Object.getOwnPropertyDescriptor(session, watcher),
  };
  const unwatch = (real: Session): void => {
    for (const key of ['commit', 'rollback', watcher] as const) {
      const descriptor = before[key === watcher ? 'watcher' : key];
      if (descriptor === undefined) Reflect.deleteProperty(real, key);
      else Object.defineProperty(real, key, descriptor);
    }
  };
  Object.defineProperty(session, watcher, { value: injector, configurable: true, writable: true });
  Object.assign(session, {
    async commit(this: Session, ...args: unknown[]): Promise<void> {
      unwatch(this);
      const injected = injector.onStatement('COMMIT');
      if (injected === undefined) return this.commit(...(args as []));
      const error = await errorFor(injected, driver, db);
      if (injected.fault !== 'commit-lost') {
        // The COMMIT never reached the inner watches: the transaction is still open for the engine's ROLLBACK.
        throw error;
      }
      if (injected.committed === true) await this.commit(...(args as []));
      else await this.rollback().catch(() => undefined);
      this.destroy(error);
      throw markCommitInFlight(error);
    },
    rollback(this: Session, ...args: unknown[]): Promise<void> {
      unwatch(this);
      return this.rollback(...(args as []));
    },
  });
}

function errorFor(injected: InjectedFault, driver: FaultDriver, db: Database): Promise<Error> {
  return driverError(driver, injected.fault, { sql: injected.statement, dialect: db.backend });
}
