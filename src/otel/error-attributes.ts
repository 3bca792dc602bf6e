import type { Attributes } from '@opentelemetry/api';
import type { Classification } from '../core/classification.js';
import { innermostError } from '../core/error-cause.js';
import { isAmbiguousCommitError } from '../core/errors.js';

/**
 * The attributes of a failure: the error's class (error.type), the server's code (db.response.status_code)
 * and dbop's classification. Never the message: drivers put parameter values and SQL in it.
 */
export function errorAttributes(error: unknown, classification: Classification | undefined): Attributes {
  const attributes: Attributes = { 'error.type': errorClass(error) };
  const code = classification?.code ?? codeOf(innermostError(error));
  if (code !== undefined) attributes['db.response.status_code'] = code;
  if (classification !== undefined) {
    attributes['dbop.error.kind'] = classification.kind;
    attributes['dbop.retry.scope'] = classification.scope;
  }
  if (classification?.ambiguous === true || isAmbiguousCommitError(error))
    attributes['dbop.ambiguous'] = true;
  return attributes;
}

/** The class name of the innermost error (FAForever's `class` label): DatabaseError, SqlError, ... */
export function errorClass(error: unknown): string {
  const inner = innermostError(error);
  if (typeof inner !== 'object' || inner === null) return typeof inner;
  const name = (inner as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' ? name.slice(0, 100) : 'Error';
}

/** A short, secret-free status text for a span: the kind and the code. */
export function statusText(attributes: Attributes): string {
  const kind = attributes['dbop.error.kind'] ?? attributes['error.type'];
  const code = attributes['db.response.status_code'];
  return code === undefined ? String(kind) : `${String(kind)} ${String(code)}`;
}

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = error.code;
  // Only short tokens: a code is a SQLSTATE, an errno or a name, never free text.
  if ((typeof code === 'string' && /^[\w.-]{1,40}$/.test(code)) || typeof code === 'number')
    return String(code);
  return undefined;
}
