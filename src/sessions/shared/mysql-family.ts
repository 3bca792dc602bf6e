/** MySQL errnos after which the server has already rolled the whole transaction back. */
const transactionEnding = new Set([1213]);

/** True when a MySQL or MariaDB error ended the transaction on the server (deadlock victim, Galera conflict). */
export function endsMysqlTransaction(error: unknown): boolean {
  const errno = (error as { errno?: unknown } | null)?.errno;
  return typeof errno === 'number' && transactionEnding.has(errno);
}

/** Checks a connection thread id before it goes into KILL QUERY. */
export function checkThreadId(threadId: unknown): number | undefined {
  return typeof threadId === 'number' && Number.isSafeInteger(threadId) && threadId > 0
    ? threadId
    : undefined;
}
