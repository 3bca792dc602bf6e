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

/**
 * A DatabaseConnection was used after the unit that handed it out (transaction(), run(), acquire()) had
 * ended: kept in a variable or used from a timer, its statement would run in autocommit, or inside the
 * next unit's transaction on the same pooled connection.
 */
export class ConnectionEndedError extends DbopError {
  constructor() {
    super(
      'DBOP_CONNECTION_ENDED',
      'This connection belongs to a unit (transaction(), run() or acquire()) that has ended; use the connection of the unit you are in',
    );
  }
}
