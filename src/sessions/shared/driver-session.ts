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

  inTransaction(): boolean {
    if (this.#destroyed) return false;
    return this.#driver.inTransaction?.() ?? this.#open;
  }

  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
    return this.#run(() => this.#driver.query(sql, params)) as Promise<QueryResult<Row>>;
  }

  batch(statements: readonly string[]): Promise<Record<string, unknown>[]> {
    if (statements.length === 0) return Promise.resolve([]);
    return this.#run(() => this.#driver.batch(statements));
  }

  async begin(options: BeginOptions = {}): Promise<void> {
    if (this.inTransaction())
      throw new DbopError('DBOP_TRANSACTION_OPEN', 'A transaction is already open on this session');
    const statements = [...this.sql.begin(options), ...(options.alsoRun ?? [])];
    const recordId = this.#driver.commitStatus !== undefined && options.readOnly !== true;
    const idQuery = recordId ? this.sql.transactionIdQuery : undefined;
    if (idQuery !== undefined) statements.push(idQuery);
    this.#transactionId = undefined;
    this.#open = true;
    try {
      const rows = await this.batch(statements);
      if (idQuery !== undefined) this.#transactionId = String(rows[0]?.xid);
    } catch (error) {
      // BEGIN itself may have worked: leave nothing open.
      if (this.inTransaction()) await this.rollback().catch(() => this.destroy(error));
      this.#open = false;
      throw error;
    }
  }

  async commit(options: AlsoRun = {}): Promise<void> {
    const transactionId = this.#transactionId;
    this.#transactionId = undefined;
    try {
      await this.batch([...(options.alsoRun ?? []), this.sql.commit()]);
    } catch (error) {
      if (!this.#lostConnection(error)) throw error;
      if (transactionId === undefined || this.#driver.commitStatus === undefined)
        throw markCommitInFlight(error);
      // The COMMIT may or may not have landed: ask the server, never guess.
      await verifyCommit(error, () => this.#driver.commitStatus!(transactionId));
    } finally {
      this.#open = false;
    }
  }

  async rollback(options: AlsoRun = {}): Promise<void> {
    this.#transactionId = undefined;
    try {
      await this.batch([this.sql.rollback(), ...(options.alsoRun ?? [])]);
    } finally {
      this.#open = false;
    }
  }

  async savepoint(options: AlsoRun = {}): Promise<string> {
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
    await this.batch([this.sql.releaseSavepoint(name), ...(options.alsoRun ?? [])]);
  }

  async rollbackToSavepoint(name: string, options: RollbackToOptions = {}): Promise<void> {
    const statements = [this.sql.rollbackToSavepoint(name)];
    if (options.release !== false) statements.push(this.sql.releaseSavepoint(name));
    await this.batch([...statements, ...(options.alsoRun ?? [])]);
  }

  cancel(): Promise<void> {
    if (this.#driver.cancel === undefined || this.#busy === 0 || this.#destroyed) return Promise.resolve();
    return this.#driver.cancel();
  }

  destroy(_reason?: unknown): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#open = false;
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
    try {
      return await work();
    } catch (error) {
      if (this.#driver.endsTransaction?.(error) === true) this.#open = false;
      if (this.#driver.isBroken?.() === true) this.destroy(error);
      throw error;
    } finally {
      this.#busy -= 1;
    }
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
