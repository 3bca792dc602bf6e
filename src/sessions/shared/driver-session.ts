import { randomUUID } from 'node:crypto';
import type { Backend } from '../../core/classification.js';
import type { DialectSql } from '../../core/dialect-sql.js';
import { DbopError } from '../../core/errors.js';
import type { AlsoRun, BeginOptions, QueryResult, RollbackToOptions, Session } from '../../core/session.js';
import type { SessionDriver } from './session-driver.js';
import { boundaryStatement, endedByBody } from './transaction-boundary.js';
import { markCommitInFlight, verifyCommit } from './verify-commit.js';

// Text that may end dbop's transaction and open another in one round trip (COMMIT AND CHAIN; COMMIT; BEGIN):
// the driver's status after it says "in a transaction" again, so only the statement tells.
const hidesItsEnd = /;|\bchain\b/i;

// Servers whose marker table this process created (or is creating), keyed by the driver's markerScope.
const markerTables = new WeakMap<object, Promise<void>>();
let markedCommits = 0;
// The server history read on each connection (keyed by its raw driver object, which outlives the sessions
// made over it), once read where it cannot change while the connection lives: see TransactionHistorySql.
const histories = new WeakMap<object, string>();

/**
 * The Session every adapter returns: transaction state tracked here where the driver does not expose it,
 * kept right after errors, and a destroyed connection never used again.
 */
export class DriverSession<Raw> implements Session<Raw> {
  readonly #driver: SessionDriver<Raw>;
  #open = false;
  #busy = 0;
  #slot = 0;
  #destroyed = false;
  // The transaction's id for verifying a lost COMMIT: null when it never wrote, undefined when unknown.
  #transactionId: string | null | undefined;
  // The id is read in the COMMIT batch rather than at BEGIN.
  #idAtCommit = false;
  // A commit-marker row with the id #transactionId goes into the COMMIT batch.
  #markAtCommit = false;
  // The open transaction was begun through this session (not found open by a probe).
  #began = false;
  #ended: unknown;
  // The last error inside the transaction not undone by a ROLLBACK TO: what aborted it, if COMMIT says so.
  #failure: unknown;
  // Statements owed once the transaction ends (SQLite's read-only switch).
  #afterEnd: readonly string[] = [];
  #runs = 0;
  // True while the BEGIN batch runs: a failure then means no transaction, not one that ended.
  #beginning = false;
  #probedAt = -1;
  #probed = false;
  // The transaction is a unit's (holdTransaction): a statement that ends it fails, and so does the unit.
  #held = false;
  // #ended is the body ending the held transaction: the driver may have no transaction left to roll back.
  #crossed = false;

  constructor(driver: SessionDriver<Raw>) {
    this.#driver = driver;
  }

  get dialect(): Backend {
    return this.#driver.dialect;
  }
  get sql(): DialectSql {
    return this.#driver.sql;
  }
  get raw(): Raw {
    return this.#driver.raw;
  }
  get destroyed(): boolean {
    return this.#destroyed;
  }
  get busy(): boolean {
    return this.#busy > 0;
  }

  nextSlot(): number {
    this.#slot += 1;
    return this.#slot;
  }

  get statements(): number {
    return this.#runs;
  }

  get endedBy(): unknown {
    // The body may have ended a held transaction with the driver itself: what the driver last saw says so.
    this.#checkHeld();
    return this.#ended;
  }

  holdTransaction(): void {
    if (this.#began && this.#open && this.#ended === undefined && !this.#destroyed) this.#held = true;
  }

  inTransaction(): boolean {
    if (this.#destroyed) return false;
    // The server ended the transaction (MySQL 1213), but to its owner it stays open until rolled back: the
    // owner's ROLLBACK is what clears the error that later statements and COMMIT would otherwise report.
    if (this.#ended !== undefined) return true;
    return this.#driver.inTransaction?.() ?? this.#open;
  }

  serverIdle(): boolean | undefined {
    if (this.#destroyed) return false;
    const reported = this.#driver.serverIdle?.();
    if (reported !== undefined) return reported;
    // Drivers that read the state live (better-sqlite3, PGlite, mariadb's status copy) answer the same.
    const live = this.#driver.inTransaction?.();
    return live === undefined ? undefined : !live;
  }

  probeTransaction(): boolean | Promise<boolean> {
    if (this.#destroyed) return false;
    // The server ended dbop's transaction, but its owner has not: a step now must not open one of its own.
    if (this.#ended !== undefined) return true;
    const known = this.#driver.inTransaction?.();
    if (known !== undefined) return known;
    // Nothing ran since the last probe, or dbop began the transaction itself: the answer is known.
    if ((this.#open && this.#began) || this.#driver.probeTransaction === undefined) return this.#open;
    if (this.#probedAt === this.#runs) return this.#probed;
    return this.#probe();
  }

  async #probe(): Promise<boolean> {
    const open = await this.#run(() => this.#driver.probeTransaction!());
    this.#open = open;
    this.#began = false;
    // The answer is reused by the begin that follows in the same turn (run() -> scope -> begin), and only
    // then: the caller can change the state with the driver itself once I/O had a chance to run.
    this.#probed = open;
    const at = this.#runs;
    this.#probedAt = at;
    setImmediate(() => {
      if (this.#probedAt === at) this.#probedAt = -1;
    });
    return open;
  }

  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
    // Statements after the server ended the transaction would run in autocommit, outside it.
    if (this.#ended !== undefined) return Promise.reject(this.#ended);
    if (this.#held) {
      const refused = this.#refuseBoundary(sql);
      if (refused !== undefined) return Promise.reject(refused);
    }
    // The statement and its parameters passed along, not closed over: this is every statement's path.
    return this.#run(this.#sendQuery, sql, params) as Promise<QueryResult<Row>>;
  }

  readonly #sendQuery = (sql: string, params: readonly unknown[] | undefined): Promise<QueryResult> =>
    this.#driver.query(sql, params);

  batch(statements: readonly string[]): Promise<Record<string, unknown>[]> {
    if (statements.length === 0) return Promise.resolve([]);
    if (this.#held) {
      const refused = this.#refuseBoundary(statements.join(';\n'));
      if (refused !== undefined) return Promise.reject(refused);
    }
    return this.#run(() => this.#driver.batch(statements));
  }

  async begin(options: BeginOptions = {}): Promise<void> {
    const probed = this.probeTransaction();
    if (typeof probed === 'boolean' ? probed : await probed)
      throw new DbopError('DBOP_TRANSACTION_OPEN', 'A transaction is already open on this session');
    const readOnly = options.readOnly === true ? this.sql.readOnlyTransaction : undefined;
    // What a previous transaction still owes (it ended on its own) goes first, then BEGIN.
    const statements = [...this.#afterEnd, ...this.sql.begin(options), ...(readOnly?.apply ?? [])];
    statements.push(...(options.alsoRun ?? []));
    // Verification needs the transaction's id. Read with the COMMIT where the driver keeps the rows of a batch
    // that failed (no id is assigned to a transaction that never wrote); else at BEGIN, assigning one.
    const recordId = this.#driver.commitStatus !== undefined && options.readOnly !== true;
    const marker = recordId && this.#driver.marksCommits === true ? this.sql.commitMarker : undefined;
    this.#idAtCommit = recordId && marker === undefined && this.#driver.rowsAsTheyArrive === true;
    const readId = recordId && marker === undefined && !this.#idAtCommit;
    const idQuery = readId ? this.#idQuery('assignTransactionIdQuery') : undefined;
    if (idQuery !== undefined) statements.push(idQuery);
    // The marker table is created once per server, here where no transaction is open (DDL commits one).
    if (marker !== undefined) await this.#createMarkerTable(marker.create);
    this.#transactionId = marker === undefined ? undefined : randomUUID().replaceAll('-', '');
    this.#markAtCommit = marker !== undefined;
    this.#ended = undefined;
    this.#failure = undefined;
    this.#held = false;
    this.#crossed = false;
    this.#afterEnd = readOnly?.restore ?? [];
    this.#open = true;
    this.#began = true;
    this.#beginning = true;
    try {
      const beginBatch = this.#driver.beginBatch;
      const rows =
        beginBatch === undefined
          ? await this.batch(statements)
          : await this.#run(() => beginBatch.call(this.#driver, statements, options.readOnly === true));
      if (idQuery !== undefined && rows[0] !== undefined)
        this.#transactionId = this.#idOf(rows[0]) ?? undefined;
    } catch (error) {
      this.#idAtCommit = false;
      this.#markAtCommit = false;
      // BEGIN itself may have worked: leave nothing open.
      if (this.inTransaction()) await this.rollback().catch(() => this.destroy(error));
      this.#open = false;
      throw error;
    } finally {
      this.#beginning = false;
    }
  }

  async commit(options: AlsoRun = {}): Promise<void> {
    // A held transaction the body ended is not committed: its COMMIT would report the body's work as the unit's.
    this.#checkHeld();
    this.#held = false;
    this.#crossed = false;
    const transactionId = this.#transactionId;
    this.#transactionId = undefined;
    const ended = this.#ended;
    const failure = this.#failure;
    this.#ended = undefined;
    this.#failure = undefined;
    if (ended !== undefined) {
      // The server already rolled the transaction back: there is nothing to commit, and saying so is the point.
      this.#open = false;
      // What the owner meant to run with the COMMIT (restoring session settings, MySQL) still has to run, or
      // the pooled connection keeps dbop's timeouts; if it cannot, the connection's state is unknown.
      const pending = [...(options.alsoRun ?? []), ...this.#takeAfterEnd()];
      if (pending.length > 0) await this.batch(pending).catch(() => this.destroy(ended));
      throw ended;
    }
    // A connection that died before COMMIT was sent (killed while idle in the transaction) took the
    // transaction with it: its loss is a plain connection loss, not an unknown outcome.
    const deadBefore = this.#driver.isBroken?.() === true;
    // Read right before COMMIT in the same batch, so it is known even when COMMIT's answer is lost; not in a
    // transaction an earlier error may have aborted, where it would fail and keep COMMIT from running.
    const idQuery =
      this.#idAtCommit && failure === undefined ? this.#idQuery('transactionIdQuery') : undefined;
    this.#idAtCommit = false;
    // The marker row commits with the transaction or not at all: found later, the COMMIT landed.
    const markerInsert =
      this.#markAtCommit && transactionId ? this.sql.commitMarker?.insert(transactionId) : undefined;
    this.#markAtCommit = false;
    let id = transactionId;
    const onRow =
      idQuery === undefined
        ? undefined
        : (row: Record<string, unknown>): void => {
            if ('xid' in row) id = this.#idOf(row);
          };
    const statements = [...(options.alsoRun ?? [])];
    if (idQuery !== undefined) statements.push(idQuery);
    if (markerInsert !== undefined) statements.push(markerInsert);
    statements.push(this.sql.commit(), ...this.#afterEnd);
    try {
      await this.#run(() => this.#driver.batch(statements, onRow));
      this.#afterEnd = [];
      this.#open = false;
    } catch (error) {
      // A statement before COMMIT met the aborted transaction (COMMIT never ran, it is still open): the
      // caller must roll back, and learns what aborted it.
      if ((error as { code?: unknown } | null)?.code === '25P02') throw failure ?? error;
      this.#open = false;
      if (!this.#lostConnection(error) || deadBefore) throw error;
      // The server said goodbye in order before the id's row, which comes before COMMIT: COMMIT never ran.
      if (id === undefined && idQuery !== undefined && this.#driver.endedInOrder?.(error) === true) {
        this.destroy(error);
        throw error;
      }
      if (id === undefined || this.#driver.commitStatus === undefined) throw markCommitInFlight(error);
      // A connection whose COMMIT answer is being looked up is not used again; destroyed now, it also frees
      // its pool slot for the lookup (with max 1, the sidecar would otherwise wait for it forever).
      this.destroy(error);
      // The COMMIT may or may not have landed: ask the server, never guess. A transaction that never wrote
      // has no id and nothing to lose: doing it again is safe.
      const xid = id;
      await verifyCommit(error, () =>
        xid === null ? Promise.resolve('aborted') : this.#driver.commitStatus!(xid),
      );
    }
    if (markerInsert !== undefined) await this.#pruneMarkers();
    // Postgres answers COMMIT of a transaction an earlier error aborted with ROLLBACK, and no error.
    if (this.#driver.lastCommand?.() === 'ROLLBACK') {
      throw (
        failure ?? new DbopError('DBOP_TRANSACTION_ABORTED', 'COMMIT rolled back: the transaction had failed')
      );
    }
  }

  async rollback(options: AlsoRun = {}): Promise<void> {
    this.#checkHeld();
    // The body ended the transaction: no ROLLBACK where none is open (SQLite would fail on it).
    const gone = this.#crossed && this.#liveOpen() === false;
    this.#held = false;
    this.#crossed = false;
    this.#transactionId = undefined;
    this.#idAtCommit = false;
    this.#markAtCommit = false;
    this.#ended = undefined;
    this.#failure = undefined;
    try {
      const rollback = gone ? [] : [this.sql.rollback()];
      await this.batch([...rollback, ...(options.alsoRun ?? []), ...this.#afterEnd]);
      this.#afterEnd = [];
    } finally {
      this.#open = false;
      // A statement cancelled just before this ROLLBACK may have recorded its failure meanwhile: the
      // transaction it would have ended is gone now.
      this.#ended = undefined;
      this.#failure = undefined;
    }
  }

  async savepoint(options: AlsoRun = {}): Promise<string> {
    if (this.#ended !== undefined) throw this.#ended;
    const name = `dbop_sp_${this.nextSlot()}`;
    try {
      await this.batch([this.sql.savepoint(name), ...(options.alsoRun ?? [])]);
    } catch (error) {
      // The SAVEPOINT may exist with its settings half-applied: undo it; if it never existed, this fails too.
      if (this.inTransaction() && !this.#destroyed)
        await this.rollbackToSavepoint(name).catch(() => undefined);
      throw error;
    }
    return name;
  }

  async releaseSavepoint(name: string, options: AlsoRun = {}): Promise<void> {
    // The savepoint went with the transaction the server ended: report why, not "does not exist" (1305).
    if (this.#ended !== undefined) throw this.#ended;
    await this.batch([this.sql.releaseSavepoint(name), ...(options.alsoRun ?? [])]);
  }

  async rollbackToSavepoint(name: string, options: RollbackToOptions = {}): Promise<void> {
    if (this.#ended !== undefined) throw this.#ended;
    const statements = [this.sql.rollbackToSavepoint(name)];
    if (options.release !== false) statements.push(this.sql.releaseSavepoint(name));
    await this.batch([...statements, ...(options.alsoRun ?? [])]);
    this.#failure = undefined;
  }

  cancel(): Promise<void> {
    if (this.#driver.cancel === undefined || this.#busy === 0 || this.#destroyed) return Promise.resolve();
    return this.#driver.cancel();
  }

  destroy(_reason?: unknown): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#open = false;
    this.#ended = undefined;
    this.#held = false;
    try {
      this.#driver.destroy();
    } catch {
      // Already closed: nothing left to release.
    }
  }

  // Not an async function (every statement's path): one derived promise, failing the same way.
  #run<T, A = undefined, B = undefined>(work: (a: A, b: B) => Promise<T>, a?: A, b?: B): Promise<T> {
    if (this.#destroyed) {
      return Promise.reject(
        new DbopError(
          'DBOP_SESSION_DESTROYED',
          'The session was destroyed: its connection state was unknown',
        ),
      );
    }
    this.#busy += 1;
    this.#runs += 1;
    let pending: Promise<T>;
    try {
      pending = work(a as A, b as B);
    } catch (error) {
      pending = Promise.reject(error);
    }
    return pending.then(this.#ran as (value: T) => T, this.#runFailed);
  }

  // The ends of #run, made once per session rather than per statement.
  readonly #ran = (value: unknown): unknown => {
    this.#busy -= 1;
    // What the driver saw at the statement's end: a held transaction gone means the statement ended it.
    const crossed = this.#checkHeld();
    if (crossed !== undefined) throw crossed;
    return value;
  };

  /**
   * When the driver reports that the held transaction is no longer open, the body ended it: recorded as
   * #ended (later statements and COMMIT fail with it) and returned. Nothing to check unless a transaction is
   * held and not already ended.
   */
  #checkHeld(): unknown {
    if (!this.#held || this.#ended !== undefined) return undefined;
    if (this.#destroyed || this.#beginning || !this.#open || this.#liveOpen() !== false) return undefined;
    this.#ended = endedByBody(undefined, true);
    this.#crossed = true;
    this.#open = false;
    return this.#ended;
  }

  /**
   * A statement that would end the held transaction, refused unsent where the driver keeps no transaction
   * status to tell afterwards (postgres.js; mysql2 after an error) that it ended, or where the text may end it
   * and open another in one round trip (hidesItsEnd).
   */
  #refuseBoundary(sql: string): unknown {
    if (this.#liveOpen() !== undefined && !hidesItsEnd.test(sql)) return undefined;
    const words = boundaryStatement(sql, this.dialect);
    if (words === undefined) return undefined;
    // Nothing was sent: the transaction is still open, and the owner rolls it back as after any failure.
    return endedByBody(words, false);
  }

  /** Whether the driver last saw a transaction open, without a round trip; undefined when it keeps no such report. */
  #liveOpen(): boolean | undefined {
    const known = this.#driver.inTransaction?.();
    if (known !== undefined) return known;
    const idle = this.#driver.serverIdle?.();
    return idle === undefined ? undefined : !idle;
  }

  readonly #runFailed = (error: unknown): never => {
    try {
      this.#recordFailure(error);
      if (this.#driver.isBroken?.() === true) this.destroy(error);
    } finally {
      this.#busy -= 1;
    }
    throw error;
  };

  #recordFailure(error: unknown): void {
    if (this.#driver.endsTransaction?.(error) === true) {
      // Only a transaction dbop began is held to it: one the caller began is the caller's to end.
      if (this.#began && this.#open) this.#ended ??= error;
      this.#open = false;
      return;
    }
    // SQLite rolls a transaction back on its own (ON CONFLICT ROLLBACK, RAISE(ROLLBACK), I/O errors): a driver
    // that reads its state live says so, and the transaction is then as ended as after a MySQL deadlock. The
    // MySQL family answers from the last OK packet, stale after an error; its ending errors are endsTransaction.
    if (
      this.#began &&
      this.#open &&
      !this.#beginning &&
      this.#driver.endsTransaction === undefined &&
      this.#driver.inTransaction?.() === false
    ) {
      this.#ended ??= error;
      this.#open = false;
      return;
    }
    // 25P02 ("current transaction is aborted") is a symptom: keep the error that caused it.
    if ((error as { code?: unknown } | null)?.code !== '25P02') this.#failure = error;
  }

  async #createMarkerTable(create: string): Promise<void> {
    const key = this.#driver.markerScope ?? this.#driver;
    let created = markerTables.get(key);
    if (created === undefined) {
      created = this.#run(() => this.#driver.query(create, undefined)).then(() => undefined);
      markerTables.set(key, created);
      created.catch(() => markerTables.delete(key));
    }
    await created;
  }

  // Markers are only needed until a lost COMMIT is settled: old ones go, a bounded batch every 1000 commits.
  async #pruneMarkers(): Promise<void> {
    markedCommits += 1;
    const prune = this.sql.commitMarker?.prune;
    if (markedCommits % 1000 !== 0 || prune === undefined) return;
    await this.#run(() => this.#driver.query(prune, undefined)).catch(() => undefined);
  }

  get #historyKey(): object {
    const raw: unknown = this.#driver.raw;
    return (typeof raw === 'object' && raw !== null) || typeof raw === 'function' ? raw : this.#driver;
  }

  /** The id query to send: with the server's history until this connection has read one it can keep. */
  #idQuery(name: 'transactionIdQuery' | 'assignTransactionIdQuery'): string | undefined {
    const history = this.sql.transactionHistory;
    if (history === undefined || histories.has(this.#historyKey)) return this.sql[name];
    return history[name];
  }

  /** The id in a row of an id query (null: the transaction never wrote), with its server's history. */
  #idOf(row: Record<string, unknown>): string | null {
    const history = this.sql.transactionHistory;
    const key = this.#historyKey;
    // Read here (NULL on a standby, which a promotion may move to a new history): kept only when not NULL.
    const read = 'history' in row ? row.history : undefined;
    if (history !== undefined && typeof read === 'string') histories.set(key, read);
    if (row.xid === null || row.xid === undefined) return null;
    const xid = String(row.xid);
    if (history === undefined) return xid;
    return history.idWithHistory(
      xid,
      read === undefined ? (histories.get(key) ?? null) : (read as string | null),
    );
  }

  #takeAfterEnd(): readonly string[] {
    const statements = this.#afterEnd;
    this.#afterEnd = [];
    return statements;
  }

  #lostConnection(error: unknown): boolean {
    if (this.#destroyed || this.#driver.isBroken?.() === true) return true;
    const code = (error as { code?: unknown } | null)?.code;
    // A SQLSTATE outside the connection classes means the server answered the COMMIT: the outcome is known.
    return (
      typeof code !== 'string' ||
      !/^[0-9A-Z]{5}$/.test(code) ||
      code.startsWith('08') ||
      code.startsWith('57P')
    );
  }
}
