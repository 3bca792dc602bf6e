import type { Backend } from './classification.js';
import type { DialectSql } from './dialect-sql.js';

/** Isolation levels every dialect names the same way (SQLite knows only 'serializable'). */
export const isolationLevels = [
  'read uncommitted',
  'read committed',
  'repeatable read',
  'serializable',
] as const;

/** One of {@link isolationLevels}. */
export type IsolationLevel = (typeof isolationLevels)[number];

/** What a query returned: rows for reads, rowCount (affected or returned rows) for everything. */
export interface QueryResult<Row = Record<string, unknown>> {
  readonly rows: Row[];
  readonly rowCount: number;
}

/** Statements sent in the same round trip as a transaction-control statement (validated SQL, no params). */
export interface AlsoRun {
  readonly alsoRun?: readonly string[];
}

/** How {@link Session.begin} opens the transaction. */
export interface BeginOptions extends AlsoRun {
  readonly readOnly?: boolean;
  readonly isolationLevel?: IsolationLevel;
}

/** How {@link Session.rollbackToSavepoint} ends the step. */
export interface RollbackToOptions extends AlsoRun {
  /** Also RELEASE the savepoint (default true). */
  readonly release?: boolean;
}

/**
 * One connection of one driver, with transaction state dbop can trust. `alsoRun` statements share the
 * round trip: after BEGIN, SAVEPOINT, RELEASE, ROLLBACK and ROLLBACK TO, before COMMIT.
 */
export interface Session<Raw = unknown> {
  readonly dialect: Backend;
  readonly sql: DialectSql;
  /** The driver's own connection, as the caller passed it. */
  readonly raw: Raw;
  /** True once the connection was destroyed: its state was unknown, so it must never be reused. */
  readonly destroyed: boolean;
  /** True while a query is in flight. */
  readonly busy: boolean;
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>>;
  /** Runs parameterless statements in order, in as few round trips as the driver allows; returns the last rows. */
  batch(statements: readonly string[]): Promise<Record<string, unknown>[]>;
  /**
   * How many statements (queries, batches, transaction control) went through this session so far: lets a
   * caller tell whether anything ran since a point it noted. Optional; absent means unknown.
   */
  readonly statements?: number;
  /**
   * Whether a transaction is open, as far as its owner is concerned: also true while {@link endedBy} is set
   * (the server ended it, the owner has not rolled back yet), so owners and pools still roll back or discard.
   */
  inTransaction(): boolean;
  /**
   * Whether a transaction is open, asking the server when the driver cannot tell (postgres.js, mysql2: the
   * caller may have begun one with the driver itself); also true while {@link endedBy} is set, so no step
   * opens a transaction of its own inside the owner's. A boolean when known without a round trip.
   */
  probeTransaction?(): boolean | Promise<boolean>;
  /**
   * The error with which the server ended the transaction this session began (MySQL 1213: the whole
   * transaction is rolled back), until the session's commit, rollback or next begin. Meanwhile query()
   * rejects with it rather than run in autocommit, and commit() throws it instead of reporting success.
   */
  readonly endedBy?: unknown;
  /**
   * Holds the transaction this session began to the unit now running in it, until it commits or rolls back:
   * a statement after which the driver reports no transaction open (the unit's own COMMIT or ROLLBACK) fails
   * with DBOP_TRANSACTION_BOUNDARY, which {@link endedBy} then holds, and COMMIT throws it. Where the driver
   * reports no status, statements that would end the transaction are refused unsent instead.
   */
  holdTransaction?(): void;
  /** Begins a transaction; rejects with DBOP_TRANSACTION_OPEN when one is already open (also one begun outside dbop). */
  begin(options?: BeginOptions): Promise<void>;
  /**
   * Commits. Throws, never reports success, when the transaction did not commit: the server had already
   * ended it ({@link endedBy}), or it was aborted by an earlier error (Postgres answers COMMIT with ROLLBACK).
   */
  commit(options?: AlsoRun): Promise<void>;
  rollback(options?: AlsoRun): Promise<void>;
  /** Opens a SAVEPOINT with a generated name and returns the name. */
  savepoint(options?: AlsoRun): Promise<string>;
  releaseSavepoint(name: string, options?: AlsoRun): Promise<void>;
  rollbackToSavepoint(name: string, options?: RollbackToOptions): Promise<void>;
  /**
   * What the server last reported without a round trip: true idle outside any transaction, false in one
   * (open or aborted) or with an answer still owed, undefined when the driver keeps no such report.
   */
  serverIdle?(): boolean | undefined;
  /** Cancels the statement in flight on the server, where the driver allows it. */
  cancel?(): Promise<void>;
  /** Closes the connection for good (its state is unknown); later queries reject. */
  destroy(reason?: unknown): void;
  /** A number unique within this session, for savepoint names and saved-setting slots. */
  nextSlot(): number;
}

/**
 * Whether a pool may hand the session's connection out again: not destroyed, nothing in flight, no
 * transaction as far as dbop knows, and the server's own last report (where the driver keeps one) says
 * idle. Anything else is destroyed, never reused (rule S4).
 */
export function isReusable(session: Session): boolean {
  return !session.destroyed && !session.busy && !session.inTransaction() && session.serverIdle?.() !== false;
}

/** Where runner.transaction gets a session per attempt, and gives it back (destroyed ones are discarded). */
export interface SessionSource<Raw = unknown> {
  /**
   * `signal`: the attempt's, aborted at its time limit, the call's deadline or the caller's abort. A source
   * that may wait (a full pool) should stop waiting then, rejecting with `signal.reason`, so an abandoned
   * caller does not hold a place in its queue; one that ignores it still works (the session that arrives
   * late is given back unused).
   */
  acquire(signal?: AbortSignal): Promise<Session<Raw>>;
  release(session: Session<Raw>): Promise<void>;
}

/** True for objects shaped like a {@link SessionSource}. */
export function isSessionSource(value: unknown): value is SessionSource {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as SessionSource).acquire === 'function' &&
    typeof (value as SessionSource).release === 'function' &&
    !('dialect' in value)
  );
}

/** The Session methods that send statements to the server; wrappers that fence or count them use this. */
export const statementMethods: ReadonlySet<PropertyKey> = new Set([
  'query',
  'batch',
  'begin',
  'commit',
  'rollback',
  'savepoint',
  'releaseSavepoint',
  'rollbackToSavepoint',
]);

/**
 * The same session, with each statement method (see {@link statementMethods}) replaced by `wrap(name, call)`
 * where `call` runs the real method; every other member is the session's own. The real session stays the
 * receiver: its #private fields do not exist on the proxy.
 */
export function wrapStatements<Raw>(
  session: Session<Raw>,
  wrap: (name: string, call: (...args: unknown[]) => Promise<unknown>, args: unknown[]) => Promise<unknown>,
): Session<Raw> {
  // What each method read last gave, made once per method rather than on every read (a read per
  // statement, on the path of every call); made again should the session's method change.
  const made = new Map<PropertyKey, { readonly method: unknown; readonly member: unknown }>();
  return new Proxy(session, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const known = made.get(property);
      if (known !== undefined && known.method === value) return known.member;
      let member: unknown;
      if (statementMethods.has(property)) {
        const name = String(property);
        const call = (...again: unknown[]): Promise<unknown> => Promise.resolve(value.apply(target, again));
        member = (...args: unknown[]): Promise<unknown> => wrap(name, call, args);
      } else member = value.bind(target);
      made.set(property, { method: value, member });
      return member;
    },
  });
}
