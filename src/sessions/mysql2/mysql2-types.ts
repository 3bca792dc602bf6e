/** Anything with mysql2/promise's query(): a Pool, Connection or PoolConnection (side work: KILL QUERY). */
export interface Mysql2Queryable {
  query(sql: string, values?: unknown): Promise<[unknown, unknown]>;
}

/** The subset of a mysql2/promise Connection or PoolConnection a session needs. */
export interface Mysql2ConnectionLike extends Mysql2Queryable {
  readonly threadId?: number | null;
  destroy?(): void;
  on?(event: 'error', listener: (error: Error) => void): unknown;
  /** The callback connection under the promise wrapper. */
  readonly connection?: {
    readonly _fatalError?: unknown;
    readonly _closing?: boolean;
    readonly config?: { readonly multipleStatements?: boolean };
    /** The server's handshake: its version string says MariaDB on a MariaDB server. */
    readonly _handshakePacket?: { readonly serverVersion?: unknown; readonly statusFlags?: unknown } | null;
    /** The connection's own events: the promise wrapper passes each listener on to here. */
    on?(event: 'error', listener: (error: unknown) => void): unknown;
    listeners?(event: 'error'): readonly unknown[];
  };
}
