import { DbopError, type DbopErrorOptions } from '../core/errors.js';

/**
 * A database URL that does not parse. The message names the bad part and its character position; it
 * never quotes the URL, which may hold a password.
 */
export class DatabaseUrlError extends DbopError {
  constructor(message: string, options?: DbopErrorOptions) {
    super('DBOP_BAD_URL', message, options);
  }
}
