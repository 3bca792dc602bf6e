import { DbopError } from '../core/errors.js';

/** A bad command line: unknown flag, missing value, bad number or URL. The CLI exits with code 2. */
export class UsageError extends DbopError {
  constructor(message: string) {
    super('DBOP_USAGE', message);
  }
}
