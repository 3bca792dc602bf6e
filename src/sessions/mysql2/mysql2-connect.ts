import type { Mysql2ConnectionLike } from './mysql2-types.js';

/** A mysql2/promise connection of dbop's pool as a session's raw handle, with mysql2's row stream. */
export interface Mysql2StreamingConnection extends Mysql2ConnectionLike {
  readonly connection: NonNullable<Mysql2ConnectionLike['connection']> & {
    query(
      sql: string,
      values: readonly unknown[],
    ): { stream(options: object): AsyncIterable<Record<string, unknown>> };
  };
}

/** Imports mysql2/promise on first use, so importing dbop never loads it. */
export function importMysql2(): Promise<unknown> {
  return import('mysql2/promise');
}
