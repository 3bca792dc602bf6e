import type { Backend } from '../../core/classification.js';
import type { DialectSql } from '../../core/dialect-sql.js';
import { DbopError } from '../../core/errors.js';
import type { AlsoRun, BeginOptions, QueryResult, RollbackToOptions, Session } from '../../core/session.js';
import type { SessionDriver } from './session-driver.js';
import { markCommitInFlight, verifyCommit } from './verify-commit.js';

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
  #transactionId: string | undefined;
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
    return this.#ended;
  }

  inTransaction(): boolean {
    if (this.#destroyed) return false;
    // The server ended the transaction (MySQL 1213), but to its owner it stays open until rolled back: the
    // owner's ROLLBACK is what clears the error that later statements and COMMIT would otherwise report.
    if (this.#ended !== undefined) return true;
    return this.#driver.inTransaction?.() ?? this.#open;
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
    return this.#run(() => this.#driver.query(sql, params)) as Promise<QueryResult<Row>>;
  }

  batch(statements: readonly string[]): Promise<Record<string, unknown>[]> {
    if (statements.length === 0) return Promise.resolve([]);
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
    const recordId = this.#driver.commitStatus !== undefined && options.readOnly !== true;
    const idQuery = recordId ? this.sql.transactionIdQuery : undefined;
    if (idQuery !== undefined) statements.push(idQuery);
    this.#transactionId = undefined;
    this.#ended = undefined;
    this.#failure = undefined;
    this.#afterEnd = readOnly?.restore ?? [];
    this.#open = true;
    this.#began = true;
    this.#beginning = true;
    try {
      const rows = await this.batch(statements);
      if (idQuery !== undefined) this.#transactionId = String(rows[0]?.xid);
    } catch (error) {
      // BEGIN itself may have worked: leave nothing open.
      if (this.inTransaction()) await this.rollback().catch(() => this.destroy(error));
      this.#open = false;
      throw error;
    } finally {
      this.#beginning = false;
    }
  }

  async commit(options: AlsoRun = {}): Promise<void> {
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
    try {
      await this.batch([...(options.alsoRun ?? []), this.sql.commit(), ...this.#afterEnd]);
      this.#afterEnd = [];
      this.#open = false;
    } catch (error) {
      // A statement before COMMIT met the aborted transaction (COMMIT never ran, it is still open): the
      // caller must roll back, and learns what aborted it.
      if ((error as { code?: unknown } | null)?.code === '25P02') throw failure ?? error;
      this.#open = false;
      if (!this.#lostConnection(error) || deadBefore) throw error;
      if (transactionId === undefined || this.#driver.commitStatus === undefined)
        throw markCommitInFlight(error);
      // The COMMIT may or may not have landed: ask the server, never guess.
      await verifyCommit(error, () => this.#driver.commitStatus!(transactionId));
    }
    // Postgres answers COMMIT of a transaction an earlier error aborted with ROLLBACK, and no error.
    if (this.#driver.lastCommand?.() === 'ROLLBACK') {
      throw (
        failure ?? new DbopError('DBOP_TRANSACTION_ABORTED', 'COMMIT rolled back: the transaction had failed')
      );
    }
  }

  async rollback(options: AlsoRun = {}): Promise<void> {
    this.#transactionId = undefined;
    this.#ended = undefined;
    this.#failure = undefined;
    try {
      await this.batch([this.sql.rollback(), ...(options.alsoRun ?? []), ...this.#afterEnd]);
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
    try {
      this.#driver.destroy();
    } catch {
      // Already closed: nothing left to release.
    }
  }

  async #run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#destroyed) {
      throw new DbopError(
        'DBOP_SESSION_DESTROYED',
        'The session was destroyed: its connection state was unknown',
      );
    }
    this.#busy += 1;
    this.#runs += 1;
    try {
      return await work();
    } catch (error) {
      this.#recordFailure(error);
      if (this.#driver.isBroken?.() === true) this.destroy(error);
      throw error;
    } finally {
      this.#busy -= 1;
    }
  }

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
