/** The subset of a node-postgres result dbop reads. */
export interface PgResultLike {
  readonly rows: Record<string, unknown>[];
  readonly rowCount: number | null;
  /** The command tag ('COMMIT', or 'ROLLBACK' when COMMIT met an aborted transaction). */
  readonly command?: string;
}

/** Anything that runs a query: a pg Pool, Client or PoolClient (used for side work: cancel, verification). */
export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<unknown>;
}

/** The subset of a pg Client or PoolClient a session needs. */
export interface PgClientLike extends PgQueryable {
  readonly processID?: number | null;
  getTransactionStatus?(): string | null;
  end?(): Promise<void>;
  on?(event: 'error', listener: (error: Error) => void): unknown;
}

/** The subset of a pg Pool that {@link pgPoolSource} needs. */
export interface PgPoolLike extends PgQueryable {
  connect(): Promise<PgClientLike & { release(destroy?: boolean | Error): void }>;
}
