import type { Backend, Classification } from '../core/classification.js';
import { backends } from '../core/classification.js';
import { isDbopError } from '../core/errors.js';
import { applyHints } from './classify-hints.js';
import { classifyNode } from './classify-node.js';
import { type ClassifyOptions, resolveClassifyOptions } from './classify-options.js';
import { dbopErrors } from './dbop-errors.js';
import { errorChain } from './error-chain.js';
import { compileTable, unknownClassification } from './error-table.js';
import { classifyByMessage } from './message-fallback.js';
import { unknownWithCode } from './unknown-code.js';

const dbopCodes = compileTable(dbopErrors, undefined);

/**
 * What an error means for a retry: its kind, whether retrying can succeed, at which scope, and whether the
 * outcome of a COMMIT is unknown. Works on raw driver errors and on ORM wrappers (it walks their causes; the
 * innermost structured code wins; messages are only a fallback). Never throws: anything it does not know,
 * including invalid options, yields kind 'unknown', not retryable. Ambiguous verdicts are never retryable;
 * a caller that knows the work is idempotent may retry them anyway (E9).
 * @example classify(err, { dialect: 'postgres' }).retryable
 */
export function classify(error: unknown, options?: ClassifyOptions): Classification {
  if (typeof error !== 'object' || error === null) return unknownClassification;
  try {
    const nodes = errorChain(error);
    for (const node of nodes) {
      const own = isDbopError(node) ? dbopCodes.get(node.code) : undefined;
      if (own !== undefined) return own;
    }
    const dialect = validDialect(options?.dialect);
    for (let i = nodes.length - 1; i >= 0; i--) {
      const hit = classifyNode(nodes[i]!, dialect);
      if (hit !== undefined) return applyHints(hit, options, nodes);
    }
    const byMessage = classifyByMessage(nodes, dialect);
    if (byMessage !== undefined) return applyHints(byMessage, options, nodes);
    for (let i = nodes.length - 1; i >= 0; i--) {
      const labelled = unknownWithCode(nodes[i]!, dialect);
      if (labelled !== undefined) return labelled;
    }
    return unknownClassification;
  } catch {
    return unknownClassification; // a hostile getter or proxy: never let classification itself fail
  }
}

/** True when retrying can succeed: `classify(error, options).retryable`. */
export function isTransient(error: unknown, options?: ClassifyOptions): boolean {
  return classify(error, options).retryable;
}

/**
 * A classifier bound to validated options (throws a TypeError on a bad option, once), for sessions and for
 * execute's `classifier` option.
 * @example await execute(() => pool.query('SELECT 1'), { classifier: classifierFor({ dialect: 'mariadb' }), readOnly: true })
 */
export function classifierFor(options?: ClassifyOptions): (error: unknown) => Classification {
  const resolved = resolveClassifyOptions(options);
  return (error) => classify(error, resolved);
}

function validDialect(dialect: unknown): Backend | undefined {
  return typeof dialect === 'string' && (backends as readonly string[]).includes(dialect)
    ? (dialect as Backend)
    : undefined;
}
