/** Anything with the mariadb connector's promise query(): a Pool, Connection or PoolConnection. */
export interface MariadbQueryable {
  query(sql: string, values?: unknown): Promise<unknown>;
}

/** The subset of a mariadb Connection or PoolConnection a session needs. */
export interface MariadbConnectionLike extends MariadbQueryable {
  readonly threadId?: number | null;
  isValid?(): boolean;
  /** The connector's copy of the server status flags, updated by every OK packet. */
  readonly info?: { readonly status?: number | null } | null;
  destroy?(): void;
  on?(event: 'error', listener: (error: Error) => void): unknown;
}
