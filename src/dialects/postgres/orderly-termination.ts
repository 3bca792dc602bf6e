/**
 * SQLSTATEs a backend sends only as the FATAL ErrorResponse of ProcessInterrupts() before it exits in order:
 * pg_terminate_backend and a fast shutdown (57P01), idle_session_timeout (57P05),
 * idle_in_transaction_session_timeout (25P03), transaction_timeout (25P04, PostgreSQL 17). Immediate
 * shutdown and crash resets (quickdie) say 57P01 or 57P02 in a NoticeResponse instead, never an error.
 */
const orderlyCodes: ReadonlySet<string> = new Set(['57P01', '57P05', '25P03', '25P04']);

/**
 * True when `error` is the server's own FATAL goodbye, received as an ErrorResponse (node-postgres hands
 * it to the query that was in flight; a NoticeResponse never becomes a query's error).
 *
 * Such a goodbye proves an order: the backend queues each statement's rows in its send buffer as it runs
 * them, and elog.c's send_message_to_frontend() appends the ErrorResponse to that same buffer and flushes
 * it before proc_exit(). So every row produced before the error reaches the client ahead of it, and no
 * statement runs after it. When the backend cannot write (a stuck client), ProcessClientWriteInterrupt()
 * drops the message rather than some of the rows: then no error arrives, and this answers false.
 */
export function isOrderlyTermination(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code, severity } = error as { code?: unknown; severity?: unknown };
  // The severity is localized (lc_messages), so its presence marks an ErrorResponse; the code says which.
  return typeof severity === 'string' && typeof code === 'string' && orderlyCodes.has(code);
}
