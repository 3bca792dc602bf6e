/**
 * What the server last reported about a connection, read without a round trip: 'idle' outside any
 * transaction, 'transaction' inside one (open or aborted), 'broken' when it can no longer be used,
 * 'unknown' when the driver keeps no such report (then the pool asks `reset`, when there is one).
 */
export type ConnectionStatus = 'idle' | 'transaction' | 'broken' | 'unknown';

/**
 * How a pool or a steady connection opens, checks and ends connections of one driver. Only `create`
 * and `destroy` are required; each optional method has a documented fallback.
 */
export interface PoolFactory<C> {
  /** Opens a connection; abort `signal` gives up (the connect timeout, a closing pool). */
  create(signal: AbortSignal): Promise<C>;
  /**
   * Ends a connection; errors are reported, never thrown to a caller. `signal` aborts when the caller stops
   * waiting for a graceful end (the pool's connectTimeoutMs: a half-open socket never answers a quit):
   * then drop the socket.
   */
  destroy(connection: C, signal?: AbortSignal): Promise<void> | void;
  /** One round trip proving the connection works (SELECT 1); throws when it does not. Without it: no pings. */
  ping?(connection: C, signal: AbortSignal): Promise<void>;
  /** The server's own word on the transaction state (see {@link ConnectionStatus}). Without it: 'unknown'. */
  status?(connection: C): ConnectionStatus;
  /**
   * Makes a connection whose status is unknown clean for the next user, or throws (the pool then destroys
   * it): ROLLBACK, or a probe that fails when a transaction is open. Without it: reused as is.
   */
  reset?(connection: C): Promise<void>;
  /** Runs one parameterless statement (`setSession`); required when `setSession` is given. */
  execute?(connection: C, sql: string): Promise<unknown>;
  /**
   * Attaches `listener` to the connection's error events (pg's 'error', mysql2's and mariadb's 'error')
   * for the connection's whole life, so an error on an idle connection never crashes the process.
   */
  onError?(connection: C, listener: (error: unknown) => void): void;
}
