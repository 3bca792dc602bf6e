import { parseDsn } from './parse-dsn.js';

/**
 * True when a database URL names several hosts (postgres://u@h1:5432,h2:5433/db); throws a
 * DatabaseUrlError like {@link parseDsn} when it does not parse.
 */
export function isDsnMultihost(url: string): boolean {
  return (parseDsn(url).hosts?.length ?? 0) > 1;
}
