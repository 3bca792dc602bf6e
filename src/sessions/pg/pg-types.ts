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

/** The subset of a pg PoolClient that {@link pgPoolSource} needs: a client that can be given back. */
export interface PgPooledClientLike extends PgClientLike {
  release(destroy?: boolean | Error): void;
}

/** The subset of a pg Pool that {@link pgPoolSource} needs; `Client` is the pool's own client type. */
export interface PgPoolLike<Client extends PgPooledClientLike = PgPooledClientLike> extends PgQueryable {
  connect(): Promise<Client>;
}

/**
 * The client type a pool hands out. pg's Pool declares connect() twice (promise, then callback), and
 * TypeScript infers from the last declaration only, so the callback's client is read when there is one.
 */
export type PgPoolClientOf<Pool extends PgPoolLike<PgPooledClientLike>> = Pool['connect'] extends (
  callback: (error: never, client: infer Client, ...rest: never[]) => void,
) => void
  ? unknown extends Client
    ? Awaited<ReturnType<Pool['connect']>>
    : Exclude<Client, undefined>
  : Awaited<ReturnType<Pool['connect']>>;
