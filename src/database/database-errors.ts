import { DbopError, type DbopErrorOptions } from '../core/errors.js';

export { DatabaseUrlError } from '../connect/database-url-error.js';

/** The driver a URL needs is not installed; the message names the package to install. */
export class DriverMissingError extends DbopError {
  /** The npm package to install. */
  readonly packageName: string;

  constructor(packageName: string, message: string, options?: DbopErrorOptions) {
    super('DBOP_DRIVER_MISSING', message, options);
    this.packageName = packageName;
  }
}

/** Named parameters that do not fit the SQL: one is missing, or named and positional ones are mixed. */
export class ParameterError extends DbopError {
  constructor(message: string) {
    super('DBOP_BAD_PARAMETERS', message);
  }
}

/** The Database was used after close(). */
export class DatabaseClosedError extends DbopError {
  constructor() {
    super('DBOP_DATABASE_CLOSED', 'The database was closed; create a new one with createDatabase()');
  }
}
