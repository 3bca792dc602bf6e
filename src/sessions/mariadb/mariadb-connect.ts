import type { MariadbConnectionLike } from './mariadb-types.js';

/** A mariadb connection of dbop's pool as a session's raw handle, with the connector's row stream. */
export interface MariadbStreamingConnection extends MariadbConnectionLike {
  queryStream(sql: string, values: readonly unknown[]): AsyncIterable<Record<string, unknown>>;
}

/** Imports the mariadb connector on first use, so importing dbop never loads it. */
export function importMariadb(): Promise<unknown> {
  return import('mariadb');
}
