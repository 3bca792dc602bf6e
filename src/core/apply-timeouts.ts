import type { SettingScope, TimeoutSettings } from './dialect-sql.js';
import type { Session } from './session.js';
import { expectOptions, expectServerTimeoutMs, maxTimeoutMs } from './validate.js';

/** Puts settings changed by {@link applyTimeouts} back; also usable with `await using`. */
export interface AppliedTimeouts {
  restore(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const timeoutKeys: ReadonlySet<string> = new Set(['lockTimeoutMs', 'statementTimeoutMs']);

/**
 * Applies per-step lock and statement timeouts (milliseconds) to a session, saving the previous values on
 * the server so `restore()` puts them back. Inside a transaction the change is transaction-local (Postgres)
 * and restore must run before the transaction ends; outside one it is a session setting until restored.
 * A timeout of 0 means none (the server waits forever); values above 2^31 - 1 ms are refused.
 * @example
 * await using _ = await applyTimeouts(session, { lockTimeoutMs: 500 });
 */
export async function applyTimeouts(session: Session, settings: TimeoutSettings): Promise<AppliedTimeouts> {
  const o = expectOptions(settings, timeoutKeys, 'applyTimeouts()');
  expectServerTimeoutMs('lockTimeoutMs', o.lockTimeoutMs);
  expectServerTimeoutMs('statementTimeoutMs', o.statementTimeoutMs);
  const scope: SettingScope = session.inTransaction() ? 'savepoint' : 'session';
  const statements = session.sql.timeouts(o, session.nextSlot(), scope);
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
  const left = Math.min(maxTimeoutMs, Math.max(1, Math.ceil(remainingMs)));
  // 0 is "no timeout": with a limit on the attempt, the remaining time is the timeout.
  const lock = settings.lockTimeoutMs === 0 ? Number.POSITIVE_INFINITY : settings.lockTimeoutMs;
  const statement = settings.statementTimeoutMs || Number.POSITIVE_INFINITY;
  return {
    lockTimeoutMs: lock === undefined ? undefined : Math.min(lock, left),
    // The server's statement limit is a backstop set a little past dbop's own timer, so that the timer
    // (which cancels and reports AttemptTimeoutError) normally wins the race; never past the servers' cap.
    statementTimeoutMs: Math.min(statement, left + backstopMarginMs, maxTimeoutMs),
  };
}
