import { expectOptionalBoolean, expectOptionsObject } from '../../core/validate.js';
import { DbOpRunner } from '../../runner/dbop-runner.js';
import type { TransactionOptions } from '../../runner/runner-options.js';

/** Options of an integration's retryTransaction(): runner.transaction()'s, and how the ORM is run. */
export interface OrmTransactionOptions extends Omit<TransactionOptions<never>, 'raises' | 'default'> {
  /** The runner whose policy, logger, budget and limiter the call uses; default one shared plain runner. */
  readonly runner?: DbOpRunner;
  /**
   * MySQL and MariaDB: verify a COMMIT whose connection was lost by a marker row written with it (table
   * dbop_commit_marker, created on first use). Default true: without it such a COMMIT is ambiguous and
   * is not retried unless `idempotent`. Postgres verifies by transaction id, SQLite needs neither.
   */
  readonly verifyCommits?: boolean;
}

/** What {@link splitOrmOptions} returns: the runner and the options runner.transaction() takes. */
export interface SplitOrmOptions {
  readonly runner: DbOpRunner;
  readonly verifyCommits: boolean;
  readonly transaction: TransactionOptions<never>;
}

let shared: DbOpRunner | undefined;

/** Separates the integration's own options from runner.transaction()'s (which validates the rest). */
export function splitOrmOptions(options: OrmTransactionOptions | undefined, where: string): SplitOrmOptions {
  expectOptionsObject(options, where);
  const o = (options ?? {}) as Record<string, unknown>;
  const { runner, verifyCommits, ...transaction } = o;
  if (runner !== undefined && !(runner instanceof DbOpRunner)) {
    throw new TypeError(`Expected \`runner\` to be a DbOpRunner (new DbOpRunner(...)), in ${where}`);
  }
  expectOptionalBoolean('verifyCommits', verifyCommits);
  for (const key of ['raises', 'default']) {
    if (key in transaction)
      throw new TypeError(`${where} does not take \`${key}\`: it always rethrows the transaction's error`);
  }
  shared ??= new DbOpRunner();
  return {
    runner: (runner as DbOpRunner | undefined) ?? shared,
    verifyCommits: verifyCommits !== false,
    transaction: transaction as TransactionOptions<never>,
  };
}
