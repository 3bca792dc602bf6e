import type { Logger } from '../core/execute-options.js';

/** A logger that adds `dialect` to every record (rule R3), read lazily: a source's dialect is known late. */
export function withDialect(logger: Logger, dialect: string | (() => string | undefined)): Logger {
  const fields = (object: object): object => {
    const own = (object as { dialect?: unknown }).dialect;
    return { ...object, dialect: own ?? (typeof dialect === 'function' ? dialect() : dialect) };
  };
  return {
    debug: (object, message) => logger.debug?.(fields(object), message),
    info: (object, message) => logger.info?.(fields(object), message),
    warn: (object, message) => logger.warn?.(fields(object), message),
    error: (object, message) => logger.error?.(fields(object), message),
  };
}
