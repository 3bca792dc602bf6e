import { type Channel, channel } from 'node:diagnostics_channel';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { type LockWaitMessage, lockWaitChannelName } from '../../core/diagnostics.js';
import type { Session } from '../../core/session.js';
import { expectIntegerAtLeast, expectOptions, maxTimeoutMs } from '../../core/validate.js';
import { sqliteSql } from '../../dialects/sqlite/sqlite-sql.js';
import { DriverSession } from '../shared/driver-session.js';
import type { SqliteDatabaseLike, SqliteStatementLike } from './better-sqlite3-types.js';
import { destroyedError, nestedWriteError, waitCancelledError } from './sqlite-session-errors.js';
import {
  type GateOwner,
  lockedAround,
  registerGateOwner,
  type WriterGate,
  writerGate,
} from './writer-gate.js';

const lockWaitChannel: Channel = channel(lockWaitChannelName);

/** Options of {@link sqliteSession}. */
export interface SqliteSessionOptions {
  /**
   * The longest synchronous busy wait a step may ask for (default 20 ms). better-sqlite3 blocks the event
   * loop while it waits, so a longer lock wait is left to dbop's async backoff between attempts.
   */
  readonly maxBusyTimeoutMs?: number;
  /**
   * How long BEGIN IMMEDIATE waits for the write lock, ms, without blocking the event loop (default 1000;
   * 0 answers SQLITE_BUSY at once). A writer of the same file in this thread is waited for in turn and
   * the wait ends when its transaction does; a writer elsewhere (another thread or process) is polled for
   * as SQLite's own busy handler does, after 1, 2, 5, 10 ... ms. Then SQLITE_BUSY, which the retry policy
   * answers. A COMMIT that readers' locks hold back (rollback journal) is polled for the same way.
   */
  readonly lockWaitMs?: number;
}

const knownKeys: ReadonlySet<string> = new Set(['maxBusyTimeoutMs', 'lockWaitMs']);
// Pauses between BEGIN IMMEDIATE attempts while another thread or process holds the write lock: those
// of SQLite's own busy handler (sqliteDefaultBusyCallback), the last one repeated.
const lockPollMs = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100];
const defaultLockWaitMs = 1000;
// Prepared statements kept per connection, the least recently prepared dropped first.
const preparedKept = 100;

/**
 * A dbop Session over a better-sqlite3 Database. Queries run synchronously; the session is async only to
 * share the Session shape. The connection's busy timeout at creation is the one restored after each step.
 * @example
 * const session = sqliteSession(new Database('app.db'));
 */
export function sqliteSession<Database extends SqliteDatabaseLike>(
  db: Database,
  options: SqliteSessionOptions = {},
): Session<Database> {
  expectOptions(options, knownKeys, 'sqliteSession()');
  const lockWaitMs = expectIntegerAtLeast(
    'lockWaitMs',
    options.lockWaitMs ?? defaultLockWaitMs,
    0,
    maxTimeoutMs,
  );
  const baseBusyTimeoutMs = Number(db.pragma('busy_timeout', { simple: true }));
  const sql = sqliteSql({
    baseBusyTimeoutMs,
    baseQueryOnly: Number(db.pragma('query_only', { simple: true })) === 1,
    ...(options.maxBusyTimeoutMs === undefined ? {} : { maxBusyTimeoutMs: options.maxBusyTimeoutMs }),
  });
  let closed = false;
  // Preparing parses the SQL each time, a large part of a statement's cost on SQLite: the recent ones are
  // kept, as code written by hand keeps its prepared statements.
  const prepared = new Map<string, SqliteStatementLike>();
  const prepare = (text: string): SqliteStatementLike => {
    let statement = prepared.get(text);
    if (statement === undefined) {
      statement = db.prepare(text);
      if (prepared.size >= preparedKept) prepared.delete(prepared.keys().next().value!);
      prepared.set(text, statement);
    }
    return statement;
  };
  // One statement (BEGIN IMMEDIATE, COMMIT) runs prepared and kept, as better-sqlite3's own transactions
  // do; several go to exec in one call.
  const run = (statements: readonly string[]): void => {
    if (statements.length !== 1) {
      db.exec(statements.join(';\n'));
      return;
    }
    const statement = prepare(statements[0]!);
    if (statement.reader) statement.all();
    else statement.run();
  };
  // The write lock, as far as this thread goes: taken before BEGIN IMMEDIATE, given back once the
  // transaction is over, however it ended (checked after every statement: SQLite may end it on its own).
  const file = gateFile(db);
  const commitStatement = sql.commit();
  let beginning = false;
  let gate: WriterGate | undefined;
  // Its transaction (a write one, holding the gate, or a read one), a new object each time: bodies run
  // inside it are marked with it.
  let turn: object | undefined;
  const owner: GateOwner = {
    turn: () => turn,
    writing: () => beginning || db.inTransaction,
    locksOut: () => db.inTransaction && (gate !== undefined || !walMode(db)),
  };
  if (file !== undefined) registerGateOwner(db, file, owner);
  const hold = (held: WriterGate): void => {
    gate = held;
    turn = {};
  };
  const settle = (): void => {
    if (db.inTransaction) return;
    turn = undefined;
    if (gate !== undefined) {
      gate.leave(owner);
      gate = undefined;
    }
  };
  // Ends a wait for the lock early (cancel(): the attempt was cut off).
  let stopWaiting: (() => void) | undefined;
  return new DriverSession<Database>({
    dialect: 'sqlite',
    sql,
    raw: db,
    async query(text, params) {
      try {
        const statement = prepare(text);
        const values = params ?? [];
        if (statement.reader) {
          const rows = statement.all(...values) as Record<string, unknown>[];
          return { rows, rowCount: rows.length };
        }
        return { rows: [], rowCount: statement.run(...values).changes };
      } catch (error) {
        // Outside a transaction, BUSY while a transaction of the caller's own call chain holds a lock.
        if (file !== undefined && lockedOut(error, false) && lockedAround(file, owner))
          throw nestedWriteError(error);
        throw error;
      } finally {
        settle();
      }
    },
    async batch(statements) {
      try {
        run(statements);
      } catch (error) {
        // A COMMIT that readers' SHARED locks hold back (rollback journal; SQLite keeps the transaction
        // open): waited for without blocking, as BEGIN is, rather than rolled back and done again. The
        // PENDING lock it holds meanwhile lets no new reader in, so the readers drain.
        const at = statements.indexOf(commitStatement);
        if (at === -1 || file === undefined || !lockedOut(error, true)) throw error;
        // The read lock that holds it back is of a transaction this call runs inside: it would wait for it.
        if (lockedAround(file, owner)) throw nestedWriteError(error);
        await retryWhileBusy(statements.slice(at), performance.now() + lockWaitMs, true, error);
      } finally {
        settle();
      }
      return [];
    },
    async beginBatch(statements, readOnly) {
      // A reader takes no lock in WAL (BEGIN DEFERRED); :memory: and temp databases are the connection's own.
      if (file === undefined) return this.batch(statements);
      if (readOnly) {
        // Marked too (see lockedAround): in rollback-journal mode its read lock holds back a COMMIT nested in it.
        turn = {};
        return this.batch(statements);
      }
      if (lockWaitMs === 0) return this.batch(statements);
      const started = performance.now();
      const until = started + lockWaitMs;
      const gateOfFile = writerGate(file);
      const entering = gateOfFile.enter(owner, lockWaitMs);
      // The holder is a transaction this call runs inside: it would wait for the lock of its own caller.
      if (entering !== true && gateOfFile.heldAround()) {
        gateOfFile.withdraw(owner);
        throw nestedWriteError();
      }
      // A promise only when a writer of this thread holds the gate.
      let waited = entering !== true;
      let acquired = false;
      beginning = true;
      // Set when cancel() or destroy() ended the wait in line: BEGIN is then not tried.
      let stopped = false;
      try {
        if (entering === true) hold(gateOfFile);
        else {
          stopWaiting = () => {
            stopWaiting = undefined;
            stopped = true;
            gateOfFile.withdraw(owner);
          };
          const entered = await entering;
          stopWaiting = undefined;
          if (entered) hold(gateOfFile);
        }
        if (closed) throw destroyedError();
        if (stopped) throw waitCancelledError();
        try {
          run(statements);
        } catch (error) {
          // Only the plain BUSY of a lock held elsewhere is waited for, never one inside a transaction.
          if (!lockedOut(error, false)) throw error;
          waited = true;
          await retryWhileBusy(statements, until, false, error);
        }
        acquired = true;
        return [];
      } finally {
        beginning = false;
        settle();
        if (waited && lockWaitChannel.hasSubscribers) {
          const message: LockWaitMessage = {
            backend: 'sqlite',
            waitedMs: performance.now() - started,
            acquired,
          };
          lockWaitChannel.publish(message);
        }
      }
    },
    inTransaction: () => db.inTransaction,
    isBroken: () => closed,
    async cancel() {
      stopWaiting?.();
    },
    // The database belongs to the caller and nothing can be left running in it (queries are synchronous):
    // the session only stops using it.
    destroy() {
      closed = true;
      stopWaiting?.();
      gate?.leave(owner);
      gate = undefined;
      turn = undefined;
    },
  });

  /** SQLITE_BUSY, with the connection in a transaction or not as `inTransaction` says. */
  function lockedOut(error: unknown, inTransaction: boolean): boolean {
    return (error as { code?: unknown }).code === 'SQLITE_BUSY' && db.inTransaction === inTransaction;
  }

  /**
   * Runs `statements` again after `busy` (a BEGIN or COMMIT the lock held back), polled for as SQLite's busy
   * handler does, until they pass, fail otherwise, or `until` (performance.now()) passes: then the last BUSY.
   */
  async function retryWhileBusy(
    statements: readonly string[],
    until: number,
    inTransaction: boolean,
    busy: unknown,
  ): Promise<void> {
    let error = busy;
    for (let polls = 0; ; polls += 1) {
      const left = until - performance.now();
      if (left <= 0 || !lockedOut(error, inTransaction)) throw error;
      const pause = Math.min(left, lockPollMs[Math.min(polls, lockPollMs.length - 1)]!);
      if (!(await waitOrStop(pause))) throw waitCancelledError(error);
      try {
        run(statements);
        return;
      } catch (next) {
        error = next;
      }
    }
  }

  /** Resolves true after `ms`, false as soon as cancel() or destroy() asks to stop. */
  function waitOrStop(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        stopWaiting = undefined;
        resolve(true);
      }, ms);
      stopWaiting = () => {
        clearTimeout(timer);
        stopWaiting = undefined;
        resolve(false);
      };
    });
  }
}

/** True when the connection's database is in WAL mode, where readers hold back no writer's COMMIT. */
function walMode(db: SqliteDatabaseLike): boolean {
  return String(db.pragma('journal_mode', { simple: true })).toLowerCase() === 'wal';
}

/**
 * The key of a file database's writer gate, its device and inode: every name of the file (a symbolic or hard
 * link) finds the one gate, as they find SQLite's one lock. Undefined for :memory: and temp databases.
 */
function gateFile(db: SqliteDatabaseLike): string | undefined {
  const { name, memory } = db as { name?: unknown; memory?: unknown };
  if (memory !== false || typeof name !== 'string' || name === '') return undefined;
  const path = resolve(name);
  // Gone already (unlinked since it was opened): no other name can reach it.
  const stats = statSync(path, { bigint: true, throwIfNoEntry: false });
  return stats === undefined ? path : `${stats.dev}:${stats.ino}`;
}
