import { DbopError } from '../core/errors.js';
import type { BeginOptions, IsolationLevel, Session } from '../core/session.js';
import { isolationLevels } from '../core/session.js';
import { expectOptionalBoolean, expectOptionalOneOf, expectOptions } from '../core/validate.js';

const beginKeys: ReadonlySet<string> = new Set(['isolationLevel', 'readOnly']);

/** Options of {@link Transaction.begin}. */
export interface TransactionBeginOptions {
  readonly isolationLevel?: IsolationLevel;
  readonly readOnly?: boolean;
}

/**
 * One transaction on a session for `await using` (db-retry's Transaction): begun on creation, rolled back
 * when the block exits unless commit() ran. No retries: use runner.transaction() for those.
 * @example
 * await using tx = await Transaction.begin(session, { isolationLevel: 'serializable' });
 * await tx.session.query('UPDATE accounts SET n = n + 1');
 * await tx.commit();
 */
export class Transaction<Raw = unknown> implements AsyncDisposable {
  /** The session the transaction runs on. */
  readonly session: Session<Raw>;
  #done = false;

  private constructor(session: Session<Raw>) {
    this.session = session;
  }

  /** Begins a transaction on the session (read-only where asked, SQLite included). */
  static async begin<Raw>(
    session: Session<Raw>,
    options?: TransactionBeginOptions,
  ): Promise<Transaction<Raw>> {
    const { isolationLevel, readOnly } = expectOptions(options, beginKeys, 'Transaction.begin()');
    expectOptionalBoolean('readOnly', readOnly);
    expectOptionalOneOf('isolationLevel', isolationLevel, isolationLevels);
    const begin: BeginOptions = {
      ...(isolationLevel === undefined ? {} : { isolationLevel }),
      ...(readOnly === undefined ? {} : { readOnly }),
    };
    await session.begin(begin);
    return new Transaction(session);
  }

  /** True once commit() or rollback() ran. */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Commits. When COMMIT fails and the transaction is still open (SQLite BUSY), it stays this object's:
   * commit() may be called again, and leaving the `await using` block rolls it back.
   */
  async commit(): Promise<void> {
    this.#check();
    this.#done = true;
    try {
      await this.session.commit();
    } catch (error) {
      if (!this.session.destroyed && this.session.inTransaction()) this.#done = false;
      throw error;
    }
  }

  /** Rolls back; a connection that cannot roll back is destroyed, never reused. */
  async rollback(): Promise<void> {
    this.#check();
    this.#done = true;
    try {
      await this.session.rollback();
    } catch (error) {
      this.session.destroy(error);
      throw error;
    }
  }

  /** Rolls back unless committed; a connection that cannot roll back is destroyed, never reused. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    if (this.session.destroyed || !this.session.inTransaction()) return;
    try {
      await this.session.rollback();
    } catch (error) {
      this.session.destroy(error);
    }
  }

  #check(): void {
    if (this.#done)
      throw new DbopError('DBOP_TRANSACTION_DONE', 'The transaction was already committed or rolled back');
  }
}
