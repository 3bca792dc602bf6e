/** The subset of a postgres.js pending query a session needs: a promise of rows that can be cancelled. */
export interface PostgresJsPendingQuery extends PromiseLike<unknown> {
  cancel(): unknown;
}

/** Anything with postgres.js's unsafe(): the main `sql` instance or a reserved connection. */
export interface PostgresJsQueryable {
  unsafe(query: string, params?: unknown[], options?: { prepare?: boolean }): PostgresJsPendingQuery;
}

/** The subset of a postgres.js reserved connection (`await sql.reserve()`) a session needs. */
export interface PostgresJsReservedLike extends PostgresJsQueryable {
  release(): void;
}
