import { markCommitInFlight } from '../core/commit-marker.js';
import { type Session, type SessionSource, wrapStatements } from '../core/session.js';
import { driverError } from './driver-errors.js';
import { type FaultInjector, guardFaults } from './fault-injector.js';
import { driverMeets, type FaultDriver } from './faults.js';

/** Options of {@link injectSessionFaults} and {@link injectSourceFaults}. */
export interface SessionFaultOptions {
  /** Whose errors to throw: the driver under the session. */
  readonly driver: FaultDriver;
}

const texts: Readonly<Record<string, string>> = {
  begin: 'BEGIN',
  commit: 'COMMIT',
  rollback: 'ROLLBACK',
  savepoint: 'SAVEPOINT',
  releaseSavepoint: 'RELEASE SAVEPOINT',
  rollbackToSavepoint: 'ROLLBACK TO SAVEPOINT',
};

/**
 * A Session whose chosen statements fail with the driver's own errors, for code that holds a Session
 * rather than the driver's connection. The session underneath never sees the fault, so what it would do
 * about one (verify a lost COMMIT, say) does not happen: a lost COMMIT reaches the caller as the
 * ambiguous error of a session that cannot verify. Wrap the driver's connection with injectDriverFaults
 * to exercise the session's own handling.
 */
export function injectSessionFaults<Raw>(
  session: Session<Raw>,
  injector: FaultInjector,
  options: SessionFaultOptions,
): Session<Raw> {
  check(options.driver, injector);
  return wrapStatements(session, async (name, call, args) => {
    const sql =
      name === 'query'
        ? String(args[0])
        : name === 'batch'
          ? (args[0] as readonly string[]).join(';\n')
          : (texts[name] ?? name);
    const injected = injector.onStatement(sql);
    if (injected === undefined) return call(...args);
    const error = await driverError(options.driver, injected.fault, { sql, dialect: session.dialect });
    switch (injected.fault) {
      case 'commit-lost':
        if (injected.committed === true) await call(...args);
        else await session.rollback().catch(() => undefined);
        session.destroy(error);
        throw markCommitInFlight(error);
      case 'connection-lost':
      case 'server-shutdown':
        session.destroy(error);
        throw error;
      default:
        throw error;
    }
  });
}

/**
 * A SessionSource whose acquire() fails with connect faults (too many connections) and whose sessions
 * come wrapped by {@link injectSessionFaults}; release() gives back the session underneath.
 */
export function injectSourceFaults<Raw>(
  source: SessionSource<Raw>,
  injector: FaultInjector,
  options: SessionFaultOptions,
): SessionSource<Raw> {
  check(options.driver, injector);
  const real = new WeakMap<Session<Raw>, Session<Raw>>();
  return {
    async acquire() {
      const injected = injector.onConnect();
      if (injected !== undefined) throw await driverError(options.driver, injected.fault, {});
      const session = await source.acquire();
      const wrapped = injectSessionFaults(session, injector, options);
      real.set(wrapped, session);
      return wrapped;
    },
    release(session) {
      return source.release(real.get(session) ?? session);
    },
  };
}

function check(driver: FaultDriver, injector: FaultInjector): void {
  guardFaults(injector, (fault) => {
    if (!driverMeets(driver, fault)) throw new TypeError(`The ${driver} driver never fails with "${fault}"`);
  });
}
