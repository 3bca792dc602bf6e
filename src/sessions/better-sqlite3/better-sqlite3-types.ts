/** The subset of a better-sqlite3 Statement a session needs. */
export interface SqliteStatementLike {
  readonly reader: boolean;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number };
}

/** The subset of a better-sqlite3 Database a session needs. */
export interface SqliteDatabaseLike {
  readonly inTransaction: boolean;
  prepare(sql: string): SqliteStatementLike;
  exec(sql: string): unknown;
  pragma(source: string, options?: { simple?: boolean }): unknown;
}
