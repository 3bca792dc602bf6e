export type { MariadbSessionOptions } from './mariadb-session.js';
export { mariadbSession } from './mariadb-session.js';
export type { MariadbConnectionLike, MariadbQueryable } from './mariadb-types.js';
