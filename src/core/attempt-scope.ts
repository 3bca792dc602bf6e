import { clampTimeouts } from './apply-timeouts.js';
import type { AttemptContext, AttemptScope } from './attempt.js';
import type { DialectSql, SettingStatements, TimeoutSettings } from './dialect-sql.js';
import type { IsolationLevel, Session } from './session.js';
import { isolationLevels } from './session.js';
import {
  forgetSessionSettings,
  ownsSessionSettings,
  recordSessionSettings,
  sessionSettingsStatements,
} from './session-settings.js';
import { StatementScope } from './statement-scope.js';
import {
  expectOptionalBoolean,
  expectOptionalOneOf,
  expectOptionalTimerMs,
  expectOptions,
  expectServerTimeoutMs,
} from './validate.js';
import { withLimit } from './with-limit.js';

/** Options of {@link attemptScope}. */
export interface AttemptScopeOptions {
  /** Default: the attempt context's readOnly. */
  readonly readOnly?: boolean;
  /** Only used when the scope opens the transaction itself. */
  readonly isolationLevel?: IsolationLevel;
  /** Lock wait limit of the step, whole ms; 0 means no timeout (the server waits forever). */
  readonly lockTimeoutMs?: number;
  /** Statement limit of the step, whole ms; 0 means no timeout. */
  readonly statementTimeoutMs?: number;
  /** How long cleanup after a timed-out attempt may take before the connection is destroyed (default 5000). */
  readonly cleanupTimeoutMs?: number;
  /**
   * One autocommit statement, no transaction: no BEGIN or COMMIT, timeouts kept as the connection's own
   * settings. Only for idle sessions whose settings dbop owns (its own pool's); see {@link StatementScope}.
   */
  readonly autocommit?: boolean;
}

const knownKeys: ReadonlySet<string> = new Set([
  'readOnly',
  'isolationLevel',
  'lockTimeoutMs',
  'statementTimeoutMs',
  'cleanupTimeoutMs',
  'autocommit',
]);

const resolvedOptions = new WeakSet<AttemptScopeOptions>();

/** Validates {@link AttemptScopeOptions} once; returns a frozen copy that attemptScope() accepts as is. */
export function resolveAttemptScopeOptions(options?: AttemptScopeOptions): AttemptScopeOptions {
  if (options !== undefined && resolvedOptions.has(options)) return options;
  const o = expectOptions(options, knownKeys, 'attemptScope()');
  expectOptionalBoolean('readOnly', o.readOnly);
  expectOptionalOneOf('isolationLevel', o.isolationLevel, isolationLevels);
  expectServerTimeoutMs('lockTimeoutMs', o.lockTimeoutMs);
  expectServerTimeoutMs('statementTimeoutMs', o.statementTimeoutMs);
  expectOptionalTimerMs('cleanupTimeoutMs', o.cleanupTimeoutMs);
  expectOptionalBoolean('autocommit', o.autocommit);
  if (o.autocommit === true && o.isolationLevel !== undefined) {
    throw new TypeError('An `isolationLevel` needs a transaction: it cannot be set with `autocommit`');
  }
  const resolved = Object.freeze({ ...o });
  resolvedOptions.add(resolved);
  return resolved;
}

/** An {@link attemptScope}: also says, once begin decided, whether the step runs in a savepoint. */
export interface SessionAttemptScope extends AttemptScope {
  /** True inside a caller's transaction (SAVEPOINT), false for a transaction of its own; undefined before begin. */
  readonly nested: boolean | undefined;
}

/**
 * The scope of one attempt on a session (rule S1): with no open transaction BEGIN [READ ONLY] ... COMMIT,
 * or ROLLBACK on failure; inside one SAVEPOINT ... RELEASE, or ROLLBACK TO + RELEASE. Timeouts and the
 * read-only switch ride in the same round trip and are restored so the outer transaction keeps its own.
 * @example
 * await execute(() => session.query('UPDATE t SET n = n + 1'), { scope: () => attemptScope(session) });
 */
export function attemptScope(session: Session, options?: AttemptScopeOptions): SessionAttemptScope {
  const resolved = resolveAttemptScopeOptions(options);
  return resolved.autocommit === true
    ? new StatementScope(session, resolved)
    : new SessionScope(session, resolved);
}

/**
 * One attempt's transaction or savepoint on a session. A class rather than
 * closures: one is made per attempt, on the hot path of every runner call.
 */
class SessionScope implements SessionAttemptScope {
  readonly #session: Session;
  readonly #options: AttemptScopeOptions;
  #state: 'idle' | 'transaction' | 'savepoint' | 'done' = 'idle';
  #savepoint = '';
  #undoByRollbackTo = false;
  #pendingRestore: readonly string[] = [];
  #opening: Promise<void> | undefined;
  #nested: boolean | undefined;
  #slot: number | undefined;

  constructor(session: Session, resolvedOptions: AttemptScopeOptions) {
    this.#session = session;
    this.#options = resolvedOptions;
  }

  get nested(): boolean | undefined {
    return this.#nested;
  }

  begin(context: AttemptContext): Promise<void> {
    this.#opening = this.#open(context);
    return this.#opening;
  }

  async commit(): Promise<void> {
    const session = this.#session;
    if (this.#state === 'idle' || this.#state === 'done') return;
    const restore = this.#pendingRestore;
    try {
      if (this.#state === 'transaction') {
        if (session.sql.rollbackToUndoesSettings || restore.length === 0) {
          this.#pendingRestore = [];
          await session.commit({ alsoRun: restore });
        } else {
          // Session settings (MySQL, SQLite) outlive the transaction: restored after COMMIT, so its locks go
          // a round trip sooner. The work is committed then: a restore that fails costs the connection, not
          // the attempt, which must not be retried.
          await session.commit();
          this.#pendingRestore = [];
          await session.batch(restore).catch((error: unknown) => session.destroy(error));
        }
      } else if (this.#undoByRollbackTo) {
        await session.rollbackToSavepoint(this.#savepoint, { release: true });
      } else {
        await session.releaseSavepoint(this.#savepoint, { alsoRun: restore });
      }
      this.#finish();
    } catch (error) {
      // A COMMIT that failed can leave the transaction open (SQLite BUSY), a RELEASE too: clean up here,
      // since the attempt's rollback comes after a commit failure only if the executor calls it.
      await this.#cleanup().catch(() => session.destroy(error));
      this.#finish();
      throw error;
    }
  }

  async rollback(_context: AttemptContext, error: unknown): Promise<void> {
    if (this.#state === 'done') return;
    const session = this.#session;
    const wasBusy = session.busy;
    try {
      // A timed-out or aborted op may still have a statement running: cancel it first, and give the
      // cleanup a bounded time; a connection that cannot be brought back to a known state is destroyed.
      // The cancel counts against the same limit: it may need a second connection from a pool that is
      // exhausted (mysql2's pool would wait for one forever).
      const limitMs = wasBusy ? (this.#options.cleanupTimeoutMs ?? 5000) : undefined;
      if (wasBusy && session.cancel !== undefined) {
        await withLimit(
          session.cancel().catch(() => undefined),
          limitMs,
        );
      }
      // A begin still in flight (the limit fired during it) must settle before we know what to undo.
      const settled = (this.#opening ?? Promise.resolve()).then(
        () => this.#cleanup(),
        () => undefined,
      );
      await withLimit(settled, limitMs);
    } catch (cleanupError) {
      // The connection's state is unknown: destroy it, and say so, so that execute stops here (rule S4)
      // with the attempt's own error rather than retry on a destroyed session.
      session.destroy(error);
      throw cleanupError;
    } finally {
      this.#finish();
    }
  }

  async #open(context: AttemptContext): Promise<void> {
    const session = this.#session;
    const sql = session.sql;
    const options = this.#options;
    const readOnly = options.readOnly ?? context.readOnly;
    const timeouts = clampTimeouts(options, context.remainingMs());
    try {
      // The driver may not know of a transaction the caller began with it: then the session asks the server.
      const probed = session.probeTransaction?.() ?? session.inTransaction();
      const open = typeof probed === 'boolean' ? probed : await probed;
      this.#nested = open;
      if (!open) {
        const readOnlyStep = readOnly ? sql.readOnlyStep(false) : undefined;
        // Where settings are not transactional (MySQL, SQLite) and dbop owns the connection's, they become
        // its own settings, sent only when they change, and are never restored.
        const kept = !sql.rollbackToUndoesSettings && ownsSessionSettings(session);
        const settings = kept
          ? { apply: sessionSettingsStatements(session, timeouts), restore: [] }
          : ownedSettings(sql, timeouts);
        this.#state = 'transaction';
        try {
          await session.begin({
            readOnly,
            ...(options.isolationLevel === undefined ? {} : { isolationLevel: options.isolationLevel }),
            alsoRun: readOnlyStep === undefined ? settings.apply : [...readOnlyStep.apply, ...settings.apply],
          });
        } catch (error) {
          if (kept && settings.apply.length > 0) forgetSessionSettings(session);
          throw error;
        }
        if (kept) recordSessionSettings(session, timeouts);
        this.#pendingRestore =
          readOnlyStep === undefined ? settings.restore : [...settings.restore, ...readOnlyStep.restore];
      } else {
        const readOnlyStep = readOnly ? sql.readOnlyStep(true) : undefined;
        // The slot names where the outer values are saved (dbop.lock_timeout_<slot> on Postgres, a user
        // variable on MySQL): the nesting depth, so names are reused instead of piling up on the connection.
        const slot = (depths.get(depthKey(session)) ?? 0) + 1;
        depths.set(depthKey(session), slot);
        this.#slot = slot;
        const settings = sql.timeouts(timeouts, slot, 'savepoint');
        this.#undoByRollbackTo = readOnlyStep?.undoByRollbackTo ?? false;
        this.#state = 'savepoint';
        this.#savepoint = await session.savepoint({
          alsoRun: [...(readOnlyStep?.apply ?? []), ...settings.apply],
        });
        this.#pendingRestore = [...settings.restore, ...(readOnlyStep?.restore ?? [])];
      }
    } catch (error) {
      // The session undid its own half-done BEGIN or SAVEPOINT; settings were not applied, or went with it.
      this.#finish();
      throw error;
    }
  }

  #finish(): void {
    this.#state = 'done';
    if (this.#slot !== undefined) {
      depths.set(depthKey(this.#session), this.#slot - 1);
      this.#slot = undefined;
    }
  }

  async #cleanup(): Promise<void> {
    const session = this.#session;
    if (session.destroyed) return;
    const sql = session.sql;
    const open = session.inTransaction();
    const restore = this.#pendingRestore;
    this.#pendingRestore = [];
    if (this.#state === 'transaction') {
      // A transaction the server ended (endedBy) is still rolled back: that is what clears the record.
      if (open || session.endedBy !== undefined) await session.rollback({ alsoRun: restore });
      else if (restore.length > 0) await session.batch(restore);
    } else if (this.#state === 'savepoint') {
      // A savepoint is gone when the server already ended the transaction (MySQL 1213): only restore.
      const afterRollbackTo = sql.rollbackToUndoesSettings ? [] : restore;
      if (open && session.endedBy === undefined)
        await session.rollbackToSavepoint(this.#savepoint, { release: true, alsoRun: afterRollbackTo });
      else if (restore.length > 0 && !sql.rollbackToUndoesSettings) await session.batch(restore);
    }
  }
}

// How deep each connection's dbop savepoints are nested now. Keyed by the driver's connection, which every
// wrapper of a session (the runner's fence, the facade's error counter) shares.
const depths = new WeakMap<object, number>();

function depthKey(session: Session): object {
  const raw = session.raw;
  return typeof raw === 'object' && raw !== null ? raw : session;
}

// The statements for a transaction the scope owns depend only on the dialect and the timeout values:
// built once per pair and reused (slot 0: a session has one owned transaction at a time).
const ownedCache = new WeakMap<DialectSql, Map<string, SettingStatements>>();

function ownedSettings(sql: DialectSql, timeouts: TimeoutSettings): SettingStatements {
  let cache = ownedCache.get(sql);
  if (cache === undefined) {
    cache = new Map();
    ownedCache.set(sql, cache);
  }
  const key = `${timeouts.lockTimeoutMs}/${timeouts.statementTimeoutMs}`;
  let statements = cache.get(key);
  if (statements === undefined) {
    statements = sql.timeouts(timeouts, 0, 'transaction');
    if (cache.size >= 64) cache.clear();
    cache.set(key, statements);
  }
  return statements;
}
