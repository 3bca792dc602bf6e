import type { SettingScope, TimeoutSettings } from './dialect-sql.js';
import type { Session } from './session.js';

/** Puts settings changed by {@link applyTimeouts} back; also usable with `await using`. */
export interface AppliedTimeouts {
  restore(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Applies per-step lock and statement timeouts (milliseconds) to a session, saving the previous values on
 * the server so `restore()` puts them back. Inside a transaction the change is transaction-local (Postgres)
 * and restore must run before the transaction ends; outside one it is a session setting until restored.
 * @example
 * await using _ = await applyTimeouts(session, { lockTimeoutMs: 500 });
 */
export async function applyTimeouts(session: Session, settings: TimeoutSettings): Promise<AppliedTimeouts> {
  const scope: SettingScope = session.inTransaction() ? 'savepoint' : 'session';
  const statements = session.sql.timeouts(settings, session.nextSlot(), scope);
  if (statements.apply.length > 0) await session.batch(statements.apply);
  let restored = false;
  const restore = async (): Promise<void> => {
    if (restored) return;
    restored = true;
    if (statements.restore.length > 0 && !session.destroyed) await session.batch(statements.restore);
  };
  return { restore, [Symbol.asyncDispose]: restore };
}

const backstopMarginMs = 100;

/** Clamps step timeouts to the attempt's remaining time, so the server gives up no later than dbop does. */
export function clampTimeouts(settings: TimeoutSettings, remainingMs: number): TimeoutSettings {
  if (!Number.isFinite(remainingMs)) return settings;
  const left = Math.max(1, Math.ceil(remainingMs));
  return {
    lockTimeoutMs: settings.lockTimeoutMs === undefined ? undefined : Math.min(settings.lockTimeoutMs, left),
    // The server's statement limit is a backstop set a little past dbop's own timer, so that the timer
    // (which cancels and reports AttemptTimeoutError) normally wins the race.
    statementTimeoutMs: Math.min(
      settings.statementTimeoutMs ?? Number.POSITIVE_INFINITY,
      left + backstopMarginMs,
    ),
  };
}
