import { createExecute, type ExecuteFunction } from './core/execute.js';
import { classify } from './dialects/classify.js';
import type { ClassifyOptions } from './dialects/classify-options.js';

const autocommitWrite: ClassifyOptions = Object.freeze({ inFlight: 'write' });

/**
 * Runs `op(attempt)` with retries, backoff, per-attempt timeouts, a deadline and an attempt scope (rules E1
 * to E12). Errors are classified by the dialects' classify() unless `classifier` says otherwise, so only
 * transient database errors (and dbop's own attempt timeouts) are retried by default.
 *
 * E9: an op with no `scope` that is not `readOnly` may be an autocommit write, so a connection lost while it
 * ran leaves its outcome unknown: that failure becomes an AmbiguousCommitError unless `idempotent: true`.
 * Reads say `readOnly: true` and are retried on a new connection as usual.
 * @example const rows = await execute((attempt) => client.query(sql, params), { readOnly: true, attemptTimeoutMs: 5000 })
 */
export const execute: ExecuteFunction = createExecute({
  default: (error) => classify(error),
  autocommitWrite: (error) => classify(error, autocommitWrite),
});
