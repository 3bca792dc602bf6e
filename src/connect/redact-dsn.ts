import type { Dsn } from './dsn.js';
import { parseDsn } from './parse-dsn.js';

/**
 * The URL to print: formatted from its parsed parts with the password replaced by `***`. A string that
 * does not parse is never echoed: it becomes "[invalid database URL]".
 * @example redactDsn('postgres://app:s3cret@db/shop') // 'postgres://app:***@db/shop'
 */
export function redactDsn(urlOrDsn: string | Dsn): string {
  if (typeof urlOrDsn !== 'string') return urlOrDsn.redacted;
  try {
    return parseDsn(urlOrDsn).redacted;
  } catch {
    return '[invalid database URL]';
  }
}
