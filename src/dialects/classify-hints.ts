import type { Classification } from '../core/classification.js';
import { isCommitInFlight } from '../core/commit-marker.js';
import { isMarkedCancelledByDbop } from './cancel-marker.js';
import type { ClassifyOptions } from './classify-options.js';
import { variant } from './error-table.js';
import { isMarkedDemotedWriter } from './failover-marker.js';

/**
 * Adjusts a verdict with what only the session knows (see {@link ClassifyOptions}): who sent a cancel, whether a
 * COMMIT or autocommit write was in flight, whether a SQLite BUSY came from a deferred read->write upgrade.
 */
export function applyHints(
  base: Classification,
  options: ClassifyOptions | undefined,
  nodes: readonly object[],
): Classification {
  let result = base;
  if (
    base.kind === 'cancelled' &&
    (options?.cancelledByDbop === true || nodes.some(isMarkedCancelledByDbop))
  ) {
    result = variant(result, { kind: 'attempt-timeout', retryable: true, scope: 'statement' });
  }
  // A write connection whose server turned read-only (a failover): the connection layer finds the primary.
  if (base.kind === 'read-only' && nodes.some(isMarkedDemotedWriter)) {
    result = variant(result, { retryable: true, scope: 'connection' });
  }
  // A session marks an error that its COMMIT received, so a caller classifying it later needs no hint.
  if (nodes.some(isCommitInFlight) && outcomeUnknown(result)) {
    result = variant(result, { ambiguous: true, retryable: false });
  }
  if (options === undefined) return result;
  if (options.deferredUpgrade === true && result.kind === 'lock-timeout' && result.backend === 'sqlite') {
    result = variant(result, { scope: 'transaction' });
  }
  if ((options.inFlight === 'commit' || options.inFlight === 'write') && outcomeUnknown(result)) {
    result = variant(result, { ambiguous: true, retryable: false });
  }
  return result;
}

// The server may have applied the COMMIT or write before the connection went away (or the statement still runs).
function outcomeUnknown(c: Classification): boolean {
  return (
    c.kind === 'connection-lost' ||
    c.kind === 'server-shutdown' ||
    (c.kind === 'statement-timeout' && c.scope === 'connection')
  );
}
