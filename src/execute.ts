import { createExecute, type ExecuteFunction } from './core/execute.js';
import { classify } from './dialects/classify.js';

/**
 * Runs `op(attempt)` with retries, backoff, per-attempt timeouts, a deadline and an attempt scope (rules E1
 * to E12). Errors are classified by the dialects' classify() unless `classifier` says otherwise, so only
 * transient database errors (and dbop's own attempt timeouts) are retried by default.
 * @example const rows = await execute((attempt) => client.query(sql, params), { attemptTimeoutMs: 5000 })
 */
export const execute: ExecuteFunction = createExecute((error) => classify(error));
