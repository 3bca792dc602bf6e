import { redactSecrets } from '../connect/redact-secrets.js';
import { isDbopError } from '../core/errors.js';

/**
 * One line for stderr about a failure: the error's code and the first line of its message, passwords in
 * URLs redacted. Drivers append the statement to later lines (mariadb: "sql: ..."), values included.
 */
export function errorLine(error: unknown): string {
  if (!(error instanceof Error)) return redactSecrets(`dbop: ${firstLine(String(error))}`);
  const code = (error as { code?: unknown }).code;
  const prefix = isDbopError(error) || code === undefined ? '' : `${String(code)} `;
  const message = firstLine(error.message) || error.name;
  return redactSecrets(message.startsWith('dbop') ? message : `dbop: ${prefix}${message}`);
}

function firstLine(text: string): string {
  const end = text.indexOf('\n');
  return (end === -1 ? text : text.slice(0, end)).trimEnd();
}
