import { clampTimeouts } from './apply-timeouts.js';
import type { AttemptContext, AttemptScope } from './attempt.js';
import { checkTimeoutMs } from './dialect-sql.js';
import type { IsolationLevel, Session } from './session.js';
import { isolationLevels } from './session.js';

/** Options of {@link attemptScope}. */
export interface AttemptScopeOptions {
  /** Default: the attempt context's readOnly. */
  readonly readOnly?: boolean;
  /** Only used when the scope opens the transaction itself. */
  readonly isolationLevel?: IsolationLevel;
  readonly lockTimeoutMs?: number;
  readonly statementTimeoutMs?: number;
  /** How long cleanup after a timed-out attempt may take before the connection is destroyed (default 5000). */
  readonly cleanupTimeoutMs?: number;
}

const knownKeys = new Set([
  'readOnly',
  'isolationLevel',
  'lockTimeoutMs',
  'statementTimeoutMs',
  'cleanupTimeoutMs',
]);

/** Validates {@link AttemptScopeOptions} once; returns a frozen copy. */
export function resolveAttemptScopeOptions(options: AttemptScopeOptions = {}): AttemptScopeOptions {
  for (const key of Object.keys(options)) {
    if (!knownKeys.has(key)) throw new TypeError(`Unknown attempt scope option \`${key}\``);
  }
  if (options.isolationLevel !== undefined && !isolationLevels.includes(options.isolationLevel)) {
    throw new TypeError(
      `Expected \`isolationLevel\` to be one of ${isolationLevels.join(', ')}, got ${String(options.isolationLevel)}`,
    );
  }
  checkTimeoutMs('lockTimeoutMs', options.lockTimeoutMs);
  checkTimeoutMs('statementTimeoutMs', options.statementTimeoutMs);
  checkTimeoutMs('cleanupTimeoutMs', options.cleanupTimeoutMs);
  return Object.freeze({ ...options });
}

/**
 * The scope of one attempt on a session (rule S1): with no open transaction BEGIN [READ ONLY] ... COMMIT,
 * or ROLLBACK on failure; inside one SAVEPOINT ... RELEASE, or ROLLBACK TO + RELEASE. Timeouts and the
 * read-only switch ride in the same round trip and are restored so the outer transaction keeps its own.
 * @example
 * await execute(() => session.query('UPDATE t SET n = n + 1'), { scope: () => attemptScope(session) });
 */
export function attemptScope(session: Session, options: AttemptScopeOptions = {}): AttemptScope {
  const resolved = resolveAttemptScopeOptions(options);
  const sql = session.sql;
  let state: 'idle' | 'transaction' | 'savepoint' | 'done' = 'idle';
  let savepoint = '';
  let undoByRollbackTo = false;
  let pendingRestore: readonly string[] = [];

  const cleanup = async (): Promise<void> => {
    if (session.destroyed) return;
    const open = session.inTransaction();
    const restore = pendingRestore;
    pendingRestore = [];
    if (state === 'transaction') {
      if (open) await session.rollback({ alsoRun: restore });
      else if (restore.length > 0) await session.batch(restore);
    } else if (state === 'savepoint') {
      // A savepoint is gone when the server already ended the transaction (MySQL 1213): only restore.
      const afterRollbackTo = sql.rollbackToUndoesSettings ? [] : restore;
      if (open) await session.rollbackToSavepoint(savepoint, { release: true, alsoRun: afterRollbackTo });
      else if (restore.length > 0 && !sql.rollbackToUndoesSettings) await session.batch(restore);
    }
  };

  const open = async (context: AttemptContext): Promise<void> => {
    const readOnly = resolved.readOnly ?? context.readOnly;
    const timeouts = clampTimeouts(resolved, context.remainingMs());
    const slot = session.nextSlot();
    try {
      if (!session.inTransaction()) {
        const readOnlyStep = readOnly ? sql.readOnlyStep(false) : undefined;
        const settings = sql.timeouts(timeouts, slot, 'transaction');
        state = 'transaction';
        await session.begin({
          readOnly,
          ...(resolved.isolationLevel === undefined ? {} : { isolationLevel: resolved.isolationLevel }),
          alsoRun: [...(readOnlyStep?.apply ?? []), ...settings.apply],
        });
        pendingRestore = [...settings.restore, ...(readOnlyStep?.restore ?? [])];
      } else {
        const readOnlyStep = readOnly ? sql.readOnlyStep(true) : undefined;
        const settings = sql.timeouts(timeouts, slot, 'savepoint');
        undoByRollbackTo = readOnlyStep?.undoByRollbackTo ?? false;
        state = 'savepoint';
        savepoint = await session.savepoint({ alsoRun: [...(readOnlyStep?.apply ?? []), ...settings.apply] });
        pendingRestore = [...settings.restore, ...(readOnlyStep?.restore ?? [])];
      }
    } catch (error) {
      // The session undid its own half-done BEGIN or SAVEPOINT; settings were not applied, or went with it.
      state = 'done';
      throw error;
    }
  };
  let opening: Promise<void> | undefined;

  return {
    begin(context: AttemptContext): Promise<void> {
      opening = open(context);
      return opening;
    },

    async commit(): Promise<void> {
      if (state === 'idle' || state === 'done') return;
      const restore = pendingRestore;
      try {
        if (state === 'transaction') {
          pendingRestore = [];
          await session.commit({ alsoRun: restore });
        } else if (undoByRollbackTo) {
          await session.rollbackToSavepoint(savepoint, { release: true });
        } else {
          await session.releaseSavepoint(savepoint, { alsoRun: restore });
        }
        state = 'done';
      } catch (error) {
        // A COMMIT that failed can leave the transaction open (SQLite BUSY), a RELEASE too: clean up here,
        // since the attempt's rollback comes after a commit failure only if the executor calls it.
        await cleanup().catch(() => session.destroy(error));
        state = 'done';
        throw error;
      }
    },

    async rollback(_context: AttemptContext, error: unknown): Promise<void> {
      if (state === 'done') return;
      const wasBusy = session.busy;
      try {
        // A timed-out or aborted op may still have a statement running: cancel it first, and give the
        // cleanup a bounded time; a connection that cannot be brought back to a known state is destroyed.
        if (wasBusy) await session.cancel?.().catch(() => undefined);
        // A begin still in flight (the limit fired during it) must settle before we know what to undo.
        const settled = (opening ?? Promise.resolve()).then(cleanup, () => undefined);
        await withLimit(settled, wasBusy ? (resolved.cleanupTimeoutMs ?? 5000) : undefined);
      } catch {
        session.destroy(error);
      } finally {
        state = 'done';
      }
    },
  };
}

async function withLimit(work: Promise<void>, limitMs: number | undefined): Promise<void> {
  if (limitMs === undefined) return work;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('cleanup timed out')), limitMs);
  });
  try {
    await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}
