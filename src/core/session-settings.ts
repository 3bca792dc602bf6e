import type { TimeoutSettings } from './dialect-sql.js';
import type { Session } from './session.js';

// The timeouts each owned connection has as its own settings now, keyed by the driver's connection (which
// every wrapper of a session shares). A connection missing here has the server's defaults.
const applied = new WeakMap<object, TimeoutSettings | 'unknown'>();
const owned = new WeakSet<object>();

function connectionKey(session: Session): object {
  const raw = session.raw;
  return typeof raw === 'object' && raw !== null ? raw : session;
}

function sameSettings(had: TimeoutSettings | 'unknown' | undefined, settings: TimeoutSettings): boolean {
  if (had === 'unknown') return false;
  // None recorded: the server's defaults, as with no timeouts.
  return (
    had?.lockTimeoutMs === settings.lockTimeoutMs && had?.statementTimeoutMs === settings.statementTimeoutMs
  );
}

/**
 * Marks a session's connection as one whose settings dbop owns (it comes from dbop's own pool and nobody
 * else sets them): scopes then keep timeouts as the connection's settings, sent only when they change,
 * instead of setting and restoring them around every step.
 */
export function ownSessionSettings(session: Session): void {
  owned.add(connectionKey(session));
}

/** True for a session marked by {@link ownSessionSettings}. */
export function ownsSessionSettings(session: Session): boolean {
  return owned.has(connectionKey(session));
}

/**
 * The statements that give an owned connection these timeouts as its own settings: none when it already has
 * them. Call {@link recordSessionSettings} once they ran, {@link forgetSessionSettings} when that is unsure.
 */
export function sessionSettingsStatements(session: Session, settings: TimeoutSettings): readonly string[] {
  if (sameSettings(applied.get(connectionKey(session)), settings)) return [];
  return session.sql.sessionTimeouts(settings);
}

/** Notes that the connection now has these timeouts as its own settings. */
export function recordSessionSettings(session: Session, settings: TimeoutSettings): void {
  applied.set(connectionKey(session), {
    lockTimeoutMs: settings.lockTimeoutMs,
    statementTimeoutMs: settings.statementTimeoutMs,
  });
}

/** The connection's settings are unknown (statements that set them failed): the next use sends them again. */
export function forgetSessionSettings(session: Session): void {
  applied.set(connectionKey(session), 'unknown');
}

/**
 * Gives an owned connection these timeouts as its own settings, in one round trip when they differ from
 * what it has, none otherwise.
 */
export function applySessionSettings(session: Session, settings: TimeoutSettings): Promise<void> {
  let statements: readonly string[];
  try {
    statements = sessionSettingsStatements(session, settings);
  } catch (error) {
    return Promise.reject(error);
  }
  // The usual case, on the path of every statement: no async frame.
  return statements.length === 0 ? done : sendSettings(session, settings, statements);
}

const done = Promise.resolve();

async function sendSettings(
  session: Session,
  settings: TimeoutSettings,
  statements: readonly string[],
): Promise<void> {
  try {
    await session.batch(statements);
  } catch (error) {
    forgetSessionSettings(session);
    throw error;
  }
  recordSessionSettings(session, settings);
}
